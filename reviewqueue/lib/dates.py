"""Calendar dates in query parameters, and the instant a local day begins. Shared by the
reports (reporting/parameters.py, reporting/buckets.py) and the exports' time windows
(selectors/exports.py). No model imports."""

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

_EARLIEST = date(1970, 1, 1)
_LATEST = date(9999, 1, 1)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def date_param(params: Mapping[str, Any], name: str, errors: dict[str, str]) -> date | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not _DATE.match(raw):
        errors[name] = "Must be a date as YYYY-MM-DD."
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        errors[name] = "Must be a date as YYYY-MM-DD."
        return None
    if not _EARLIEST <= value <= _LATEST:
        errors[name] = f"Must be between {_EARLIEST} and {_LATEST}."
        return None
    return value


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of `day` in `tz`, in UTC. Where midnight does not exist (a DST gap
    at 00:00) that is the moment of the change, as in PostgreSQL's date_trunc."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
