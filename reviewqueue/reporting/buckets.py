"""Buckets: a calendar day, week (Monday to Sunday) or month in the requested time zone,
from local midnight to local midnight, so a day across a DST change is 23 or 25 hours. The
first and last buckets count only decisions inside the requested range [from, to). Also
the numbers of one bucket (`BucketStats`): rates are rounded to 4 decimals and are null,
never 0, for a bucket without decisions."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from reviewqueue.lib.dates import local_midnight

if TYPE_CHECKING:
    from reviewqueue.reporting.parameters import TrendRequest

# A bucket that ended longer ago than this is closed: no decision can still land in it (a
# decision's transaction commits within moments of its decided_at).
CLOSED_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Bucket:
    start: datetime  # the period's local start, as a UTC instant: the bucket's label
    lo: datetime  # what it counts: decided_at in [lo, hi), clipped to the requested range
    hi: datetime


def _period_start(day: date, bucket: str) -> date:
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def _next_period(day: date, bucket: str) -> date:
    if bucket == "week":
        return day + timedelta(days=7)
    if bucket == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=1)


def bucket_count(start: date, end: date, bucket: str) -> int:
    first = _period_start(start, bucket)
    if bucket == "month":
        return (end.year - first.year) * 12 + end.month - first.month + (1 if end.day > 1 else 0)
    days = (end - first).days
    return math.ceil(days / 7) if bucket == "week" else days


def buckets_for(request: "TrendRequest") -> list[Bucket]:
    """One bucket per period that overlaps [start, end), empty ones included."""
    range_lo, range_hi = (
        local_midnight(request.start, request.tz),
        local_midnight(request.end, request.tz),
    )
    out = []
    day = _period_start(request.start, request.bucket)
    while day < request.end:
        following = _next_period(day, request.bucket)
        label = local_midnight(day, request.tz)
        hi = min(local_midnight(following, request.tz), range_hi)
        out.append(Bucket(start=label, lo=max(label, range_lo), hi=hi))
        day = following
    return out


@dataclass
class BucketStats:
    decisions: int = 0
    approved: int = 0
    modified: int = 0
    rejected: int = 0
    median_seconds_to_decision: float | None = None
    p90_seconds_to_decision: float | None = None
    median_review_seconds: float | None = None
    flagged: int = 0  # decisions on items that had anomaly flags (domain/flags.py)

    def rate(self, count: int) -> float | None:
        return round(count / self.decisions, 4) if self.decisions else None

    @property
    def approval_rate(self) -> float | None:
        return self.rate(self.approved)

    @property
    def modification_rate(self) -> float | None:
        return self.rate(self.modified)

    @property
    def rejection_rate(self) -> float | None:
        return self.rate(self.rejected)

    @property
    def acceptance_rate(self) -> float | None:
        return self.rate(self.approved + self.modified)


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def runs(buckets: Sequence[Bucket]) -> list[list[Bucket]]:
    """Adjacent buckets grouped together: each run is one range scan."""
    out: list[list[Bucket]] = []
    for b in buckets:
        if out and out[-1][-1].hi == b.lo:
            out[-1].append(b)
        else:
            out.append([b])
    return out
