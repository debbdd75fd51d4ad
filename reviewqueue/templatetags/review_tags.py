"""Template filters for showing AI-written data. Everything returned here is plain data that
the templates autoescape; nothing is marked safe."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django import template

from reviewqueue.domain.reasons import Reason
from reviewqueue.domain.reasons import reasons as reasons_of
from reviewqueue.states import FlagKind

register = template.Library()

MAX_DEPTH = 6  # deeper rows share the last indent step (the CSS has classes d0..d6)


@register.filter
def http_url(value: Any) -> str:
    """`value` if it is an absolute http(s) URL with a host, else "". Evidence links are
    only ever made from this, so `javascript:` and friends stay plain text."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    if any(c.isspace() or ord(c) < 32 for c in text):
        return ""
    return text


@dataclass(frozen=True)
class Row:
    depth: int
    key: str
    text: str
    kind: str  # str | num | bool | null | empty | group

    @property
    def indent(self) -> int:
        return min(self.depth, MAX_DEPTH)


def _scalar(value: Any) -> tuple[str, str]:
    if isinstance(value, str):
        return value, "str"
    if isinstance(value, bool):
        return ("true" if value else "false"), "bool"
    if value is None:
        return "null", "null"
    if isinstance(value, int | float):
        return json.dumps(value), "num"
    return str(value), "str"


def _rows(value: Any, depth: int, out: list[Row]) -> None:
    items: list[tuple[str, Any]]
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    else:
        items = [(f"[{i}]", v) for i, v in enumerate(value)]
    for key, item in items:
        if isinstance(item, dict | list) and item:
            size = f"{len(item)} {'field' if isinstance(item, dict) else 'item'}"
            out.append(Row(depth, key, size + ("" if len(item) == 1 else "s"), "group"))
            _rows(item, depth + 1, out)
        elif isinstance(item, dict | list):
            out.append(Row(depth, key, "{}" if isinstance(item, dict) else "[]", "empty"))
        else:
            text, kind = _scalar(item)
            out.append(Row(depth, key, text, kind))


@register.filter
def json_rows(value: Any) -> list[Row]:
    """A JSON object (or array) as key/value rows; nested values become indented rows."""
    out: list[Row] = []
    if isinstance(value, dict | list):
        _rows(value, 0, out)
    elif value is not None:
        text, kind = _scalar(value)
        out.append(Row(0, "value", text, kind))
    return out


@dataclass(frozen=True)
class Evidence:
    title: str
    href: str  # "" unless the URL is http(s)
    url: str
    snippet: str


@register.filter
def evidence_items(value: Any) -> list[Evidence]:
    """Evidence as the API accepts it; anything else stored in the column still shows, as
    text, rather than breaking the page."""
    items = value if isinstance(value, list) else []
    out = []
    for item in items:
        if isinstance(item, dict):
            url = item.get("url")
            url_text = url if isinstance(url, str) else ""
            title = item.get("title")
            snippet = item.get("snippet")
            out.append(
                Evidence(
                    title=title if isinstance(title, str) and title else url_text or "(untitled)",
                    href=http_url(url_text),
                    url=url_text,
                    snippet=snippet if isinstance(snippet, str) else "",
                )
            )
        else:
            out.append(Evidence(title=json.dumps(item, default=str), href="", url="", snippet=""))
    return out


# Anomaly flags in words, for people (the API and the CSVs keep the kinds).
FLAG_LABELS: dict[str, str] = {
    FlagKind.RISK_CEILING: "Risk above ceiling",
    FlagKind.CONFIDENCE_FLOOR: "Low confidence",
    FlagKind.OUTLIER: "Outlier",
    FlagKind.VOLUME: "High volume",
}


@register.filter
def flag_label(kind: Any) -> str:
    """A flag's kind in words; an unknown kind as it is."""
    return FLAG_LABELS.get(kind, str(kind)) if isinstance(kind, str) else ""


@dataclass(frozen=True)
class FlagItem:
    kind: str
    label: str
    detail: str  # written from the item's numbers and names: text, autoescaped like the rest


@register.filter
def flag_items(value: Any) -> list[FlagItem]:
    """Recommendation.flags as shown; anything else in the column still shows, as text."""
    out = []
    for flag in value if isinstance(value, list) else []:
        if not isinstance(flag, dict):
            out.append(FlagItem("unknown", "Flag", json.dumps(flag, default=str)))
            continue
        kind, detail = flag.get("kind"), flag.get("detail")
        kind = kind if isinstance(kind, str) else "unknown"
        text = detail if isinstance(detail, str) else ""
        out.append(FlagItem(kind=kind, label=flag_label(kind), detail=text))
    return out


@register.filter
def as_json(value: Any) -> str:
    """Compact JSON for a diff cell or an audit value (escaped by the template)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@register.filter
def percent(value: Any) -> str:
    try:
        return f"{float(value) * 100:.0f}%"
    except (TypeError, ValueError):
        return ""


@register.filter
def score(value: Any) -> str:
    try:
        return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return ""


@register.filter
def iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else ""


@register.filter
def pairs(value: Any) -> list[tuple[str, Any]]:
    """A dict's items. `{{ d.items }}` would look up a key named "items" first."""
    return [(str(k), v) for k, v in value.items()] if isinstance(value, dict) else []


@register.filter
def clock(seconds: Any) -> str:
    """Seconds as m:ss, as the lease countdown in review.js shows them."""
    try:
        total = max(0, int(seconds))
    except (TypeError, ValueError):
        return ""
    return f"{total // 60}:{total % 60:02d}"


@register.filter
def reasons(value: Any) -> list[Reason]:
    """A queue's reason codes (strings or tables) as the page shows them: label,
    description, key 1-9 (domain/reasons.py)."""
    return reasons_of(value if isinstance(value, list) else [])


@dataclass(frozen=True)
class Change:
    path: str
    op: str  # add, remove, replace (lib/diff.json_diff)
    before: str
    after: str


@dataclass(frozen=True)
class EventDetails:
    fields: list[tuple[str, str]]
    changes: list[Change]


def _readable(value: Any) -> str:
    """A value as a person reads it: text as is, numbers and booleans as written, anything
    nested as compact JSON."""
    if isinstance(value, str | bool | int | float) or value is None:
        return _scalar(value)[0]
    return as_json(value)


def _change(item: Any) -> Change | None:
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        return None
    op = str(item.get("op", "replace"))
    return Change(
        path=item["path"],
        op=op,
        before="" if op == "add" else _readable(item.get("old")),
        after="" if op == "remove" else _readable(item.get("new")),
    )


@register.filter
def event_details(data: Any) -> EventDetails:
    """An audit event's data for the timeline: a decision's payload `diff` as field, before
    and after; the other keys as readable text, empty ones left out."""
    if not isinstance(data, dict):
        return EventDetails([], [])
    changes: list[Change] = []
    diff = data.get("diff")
    if isinstance(diff, list) and all(_change(c) for c in diff):
        changes = [c for c in map(_change, diff) if c]
    fields = [
        (str(key), _readable(value))
        for key, value in data.items()
        if not (key == "diff" and (changes or value == []))
        and value is not None
        and value != ""
        and value != []
    ]
    return EventDetails(fields, changes)
