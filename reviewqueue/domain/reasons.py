"""A queue's reason codes as people and machines read them.

`Queue.reason_codes` holds what the configuration said: each item a code (a string) or a
table `{code, label, description}` (config_schema.py validates it). Everything that checks
or stores a reason uses the codes (`codes`): the decision check, QA verdicts, the API,
the decision rows and the exports. Only the review pages show labels (`reasons`).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Keys 1-9 on the review page pick the first nine reasons.
KEYED = 9


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    description: str
    key: str  # "1".."9", or "" past the ninth


def _code(item: Any) -> str:
    if isinstance(item, dict):
        code = item.get("code")
        return code if isinstance(code, str) else ""
    return item if isinstance(item, str) else ""


def codes(raw: Iterable[Any] | None) -> list[str]:
    """The codes, in the configured order, each once (anything unreadable left out)."""
    return list(dict.fromkeys(code for item in raw or () if (code := _code(item))))


def reasons(raw: Iterable[Any] | None) -> list[Reason]:
    """Each code once with its label (the code when none is given), its description and
    its key."""
    out: list[Reason] = []
    seen: set[str] = set()
    for item in raw or ():
        code = _code(item)
        if not code or code in seen:
            continue
        seen.add(code)
        table = item if isinstance(item, dict) else {}
        label = table.get("label")
        description = table.get("description")
        n = len(out) + 1
        out.append(
            Reason(
                code=code,
                label=label if isinstance(label, str) and label.strip() else code,
                description=description if isinstance(description, str) else "",
                key=str(n) if n <= KEYED else "",
            )
        )
    return out
