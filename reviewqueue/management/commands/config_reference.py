"""Write the configuration reference from the schema (reviewqueue/config_schema.py):
docs/configuration.md for people and docs/configuration.schema.json for editors and other
tools. `--check` writes nothing and fails when a committed file differs (a test runs it)."""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from reviewqueue.config_schema import file_schema

MARKDOWN = Path("docs/configuration.md")
JSON_SCHEMA = Path("docs/configuration.schema.json")

_INTRO = """\
# Configuration file reference

<!-- Generated from reviewqueue/config_schema.py by `python manage.py config_reference`;
edit the schema, not this file (a test fails when they differ). -->

`python manage.py apply_config reviewqueue.toml` reads this file (TOML; the format is part of
the public interface in the product spec, and `demo/reviewqueue.toml` is a full example). It
is checked as a whole before anything changes, and every problem is named with its key path,
e.g. `queues[0].routing.auto_max_risk: must be a number from 0 to 1, got 1.3`. The Django
admin judges each queue, action type and source it saves by the same rules, with the same
words.

The rules are the JSON Schema (Draft 2020-12) in
[`configuration.schema.json`](configuration.schema.json), which an editor can use too, plus a
few the schema cannot say, named in the descriptions below: references between sections
(and to what is already applied), executors of this deployment, outbound URLs
(`REVIEWQUEUE_OUTBOUND_ALLOWLIST`), signing key variables, payload schemas (valid, `pattern`s
on RE2), and members who exist and are not auditors. A key left out takes its default; the
database's columns take the same defaults. Nothing is deleted by a file: tables are upserted
by their key (`name`, `slug`, `user`).
"""


def _literal(value: Any) -> str:
    """A value as TOML writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {_literal(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    return repr(value)


def _kind(node: dict[str, Any]) -> str:
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "")
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum")
    if kind == "number" and "exclusiveMinimum" in node:
        return f"number above {low}, at most {high}"
    if kind == "number" and low is not None and high is not None:
        return f"number from {low} to {high}"
    if kind == "integer" and high is not None:
        return f"whole number from {low} to {high}"
    if kind == "integer":
        return f"whole number, at least {low}"
    if kind == "boolean":
        return "true or false"
    if kind == "array" and "else" in node.get("items", {}):
        return "list of strings or tables"
    if kind == "array":
        return "list of strings"
    if kind == "object":
        return "table"
    if kind == "string" and node.get("pattern", r"\S") != r"\S":
        return f"string matching `{node['pattern']}`"
    if kind == "string" and "maxLength" in node:
        return f"string, at most {node['maxLength']} characters"
    return "non-empty string" if node.get("minLength") else "string"


def _rows(table: dict[str, Any], prefix: str = "") -> list[str]:
    required = set(table.get("required", []))
    rows = []
    for key, node in table["properties"].items():
        default = _literal(node["default"]) if "default" in node else "—"
        if "properties" in node:
            default = "see below"
        need = "**required**" if key in required else default
        text = " ".join(node.get("description", "").split())
        rows.append(f"| `{prefix}{key}` | {_kind(node)} | {need} | {text} |")
    return rows


def _section(section: str, table: dict[str, Any]) -> list[str]:
    lines = [f"## `[[{section}]]`", "", table["description"], ""]
    lines += ["| key | value | default | meaning |", "|---|---|---|---|", *_rows(table), ""]
    for key, node in table["properties"].items():
        if node.get("type") == "object" and "properties" in node:
            lines += [f"### `{key} = {{ ... }}`", "", " ".join(node["description"].split()), ""]
            lines += ["| key | value | default | meaning |", "|---|---|---|---|"]
            lines += [*_rows(node, f"{key}."), ""]
    return lines


def render_markdown() -> str:
    schema = file_schema()
    lines = [_INTRO]
    for section in schema["properties"]:
        table = schema["$defs"][section.removesuffix("s")]
        lines += _section(section, table)
    return "\n".join(lines).rstrip() + "\n"


def render_json() -> str:
    return json.dumps(file_schema(), indent=2, ensure_ascii=False) + "\n"


def outputs() -> dict[Path, str]:
    return {MARKDOWN: render_markdown(), JSON_SCHEMA: render_json()}


class Command(BaseCommand):
    help = "Write docs/configuration.md and docs/configuration.schema.json from the schema."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="write nothing; fail if a file differs"
        )

    def handle(self, *args: Any, check: bool, **options: Any) -> None:
        stale = []
        for relative, text in outputs().items():
            path = Path(settings.BASE_DIR) / relative
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            stale.append(str(relative))
            if not check:
                path.write_text(text, encoding="utf-8")
                self.stdout.write(f"Wrote {relative}")
        if check and stale:
            raise CommandError(
                f"{', '.join(stale)} differ from reviewqueue/config_schema.py: run "
                "`python manage.py config_reference` and commit the result."
            )
        if not stale:
            self.stdout.write("Up to date.")
