"""A trend request's parameters: the range (`from` inclusive, `to` exclusive, dates in
`tz`), the bucket size and the filters, checked, with every problem reported at once."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from reviewqueue.exceptions import ValidationFailed
from reviewqueue.lib.dates import date_param
from reviewqueue.reporting.buckets import bucket_count

BUCKETS = ("day", "week", "month")
MAX_BUCKETS = 1000
DEFAULT_SPAN = {"day": 30, "week": 7 * 12, "month": 365}


@dataclass(frozen=True)
class TrendRequest:
    """A trend request's parameters, checked. `end` is exclusive: from=2026-10-01 and
    to=2026-11-01 is October."""

    start: date
    end: date
    bucket: str = "day"
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    queue: str | None = None
    action_type: str | None = None
    source: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    prompt_version: str | None = None
    reviewer: str | None = None

    def query(self) -> dict[str, str]:
        """The request as query parameters (for links: CSV, the API)."""
        out = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "bucket": self.bucket,
            "tz": self.tz.key,
        }
        for name in TEXT_FILTERS:
            value = getattr(self, name)
            if value:
                out[name] = value
        return out


# The trend's text filters: query parameters and TrendRequest fields of the same names.
TEXT_FILTERS = (
    "queue",
    "action_type",
    "source",
    "model_name",
    "model_version",
    "prompt_version",
    "reviewer",
)


def _text(params: Mapping[str, Any], name: str, errors: dict[str, str]) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    value = str(value)
    if len(value) > 200:
        errors[name] = "Must be at most 200 characters."
        return None
    return value


def parse_trend_request(params: Mapping[str, Any], *, now: datetime | None = None) -> TrendRequest:
    """Check the query parameters; every problem is reported at once, keyed by parameter.
    Without from/to the range is the last 30 days (12 weeks, 12 months) up to today."""
    errors: dict[str, str] = {}
    bucket = str(params.get("bucket") or "day")
    if bucket not in BUCKETS:
        errors["bucket"] = "Must be day, week or month."
        bucket = "day"
    tz_name = str(params.get("tz") or "UTC")
    tz = ZoneInfo("UTC")
    try:
        if len(tz_name) > 64 or tz_name.startswith(("/", ".")) or ".." in tz_name:
            raise ValueError(tz_name)
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        errors["tz"] = "Must be an IANA time zone name, e.g. Europe/Amsterdam."
    start, end = date_param(params, "from", errors), date_param(params, "to", errors)
    texts = {name: _text(params, name, errors) for name in TEXT_FILTERS}
    if "from" not in errors and "to" not in errors:
        today = (now or timezone.now()).astimezone(tz).date()
        span = timedelta(days=DEFAULT_SPAN[bucket])
        if end is None:
            end = today + timedelta(days=1) if start is None or start <= today else start + span
        if start is None:
            start = end - span
        if start >= end:
            errors["to"] = "Must be after `from` (`to` is exclusive)."
        elif bucket_count(start, end, bucket) > MAX_BUCKETS:
            errors["to"] = f"At most {MAX_BUCKETS} {bucket} buckets per request."
    if errors:
        raise ValidationFailed("The trend parameters are not valid.", errors=errors)
    assert start is not None and end is not None
    return TrendRequest(start=start, end=end, bucket=bucket, tz=tz, **texts)
