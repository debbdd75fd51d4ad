"""CSV cells that a spreadsheet will not run as formulas (CSV injection).

A spreadsheet runs a cell that starts like a formula (`=`, `+`, `-`, `@`, tab, CR). In a
locale whose list separator is `;`, a cell such as `note;=HYPERLINK(...)` is split on import
and its second half starts a formula too. Untrusted text (AI-written, or typed by users) is
therefore prefixed with `'` when it starts like a formula *or* holds a separator followed by
a formula character, a tab or a CR anywhere; the writer quotes every text cell.
"""

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_INSIDE = re.compile(r"[;,][=+\-@]|[\t\r]")


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet should show it: None is empty, numbers stay numbers,
    text that could run as a formula gets a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, str) and (
        value.startswith(_FORMULA_START) or _FORMULA_INSIDE.search(value)
    ):
        return "'" + value
    return value


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV text, every text cell quoted and neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return out.getvalue()
