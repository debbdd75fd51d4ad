"""The MetricsBucket memo: closed buckets' numbers kept under a signature of the filters, so
a year of history is read from the decisions once. A service: this is the only module that
writes MetricsBucket (`memo_save` from trend.trend_points, `memo_prune` from
warm.metrics_warm).

What is remembered is bounded: only cuts that exist (scope.TrendFilters.memoisable, checked
by the caller) and only closed buckets that start within MEMO_SPAN of now, so asking for
versions nobody used, or for the years 1900 to 2000, adds no rows. Rows not computed for
MEMO_KEEP_DAYS are dropped by memo_prune (they are counted again when asked for)."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.utils import timezone

from reviewqueue.models import MetricsBucket
from reviewqueue.reporting.buckets import CLOSED_AFTER, Bucket, BucketStats

# How far back buckets are remembered: longer than metrics_warm's year and the reports'
# longest default view (12 months), so what people open is remembered; older buckets are
# counted on each request. With memoisable(), this bounds the memo by the cuts that exist.
MEMO_SPAN = timedelta(days=800)
MEMO_KEEP_DAYS = 90

_MEMO_FIELDS = (
    "lo",
    "hi",
    "decisions",
    "approved",
    "modified",
    "rejected",
    "median_seconds_to_decision",
    "p90_seconds_to_decision",
    "median_review_seconds",
    "flagged",
)


def memo_read(*, signature: str, closed: Sequence[Bucket]) -> dict[Bucket, BucketStats]:
    """The remembered numbers of the closed buckets `closed` (in order), where there are any."""
    if not closed:
        return {}
    by_range = {
        (row[0], row[1]): BucketStats(*row[2:])
        for row in MetricsBucket.objects.filter(
            signature=signature, lo__gte=closed[0].lo, lo__lt=closed[-1].hi
        ).values_list(*_MEMO_FIELDS)
    }
    found = {}
    for b in closed:
        hit = by_range.get((b.lo, b.hi))
        if hit is not None:
            found[b] = hit
    return found


def memo_save(*, signature: str, computed: Mapping[Bucket, BucketStats], now: datetime) -> None:
    """Remember the buckets of `computed` that are closed at `now` and start within
    MEMO_SPAN of it. A concurrent request that remembered the same bucket wins (same
    numbers)."""
    closed_before, since = now - CLOSED_AFTER, now - MEMO_SPAN
    rows = [(b, s) for b, s in computed.items() if b.hi <= closed_before and b.lo >= since]
    if not rows:
        return
    computed_at = timezone.now()
    MetricsBucket.objects.bulk_create(
        [
            MetricsBucket(
                signature=signature,
                lo=b.lo,
                hi=b.hi,
                decisions=s.decisions,
                approved=s.approved,
                modified=s.modified,
                rejected=s.rejected,
                median_seconds_to_decision=s.median_seconds_to_decision,
                p90_seconds_to_decision=s.p90_seconds_to_decision,
                median_review_seconds=s.median_review_seconds,
                flagged=s.flagged,
                computed_at=computed_at,
            )
            for b, s in rows
        ],
        ignore_conflicts=True,  # a concurrent request remembered the same bucket
        batch_size=1000,
    )


def memo_prune(*, now: datetime) -> int:
    """Drop remembered buckets not computed for MEMO_KEEP_DAYS; returns how many are
    remembered now."""
    MetricsBucket.objects.filter(computed_at__lt=now - timedelta(days=MEMO_KEEP_DAYS)).delete()
    return MetricsBucket.objects.count()
