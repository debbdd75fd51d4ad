"""The trend: approval, modification and rejection rates over time, exactly as
../shared/docs/product.md defines them ("Metrics (exact definitions)"), for the API, the
reports page and its CSV.

- Only human decisions count (Decision.kind == "human"): policy (auto) approvals and
  source-reported shadow outcomes do not, and expired items have no decision at all.
- Decisions fall in a bucket (buckets.py) by decided_at.
- Durations are seconds; medians and p90 interpolate linearly between the two nearest
  values (PostgreSQL's percentile_cont), rounded to the millisecond.

Speed: a closed bucket (ended more than CLOSED_AFTER ago) never changes, because decisions
are immutable and written with decided_at = the moment of the decision. Its numbers are kept
in MetricsBucket (memo.py) under a signature of the filters, so a year of history is read
from the decisions once; later requests read ~365 small rows and compute only the open
buckets.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from reviewqueue.models import User
from reviewqueue.reporting.buckets import (
    CLOSED_AFTER,
    Bucket,
    BucketStats,
    buckets_for,
    iso_z,
    runs,
)
from reviewqueue.reporting.memo import memo_read, memo_save
from reviewqueue.reporting.parameters import TrendRequest
from reviewqueue.reporting.scope import TrendFilters, filters_for, metrics_scope


@dataclass(frozen=True)
class TrendPoint:
    bucket: Bucket
    stats: BucketStats

    def as_json(self) -> dict[str, Any]:
        """One trend bucket as the API shows it; its keys are TREND_FIELDS, in order."""
        s = self.stats
        return {
            "start": iso_z(self.bucket.start),
            "decisions": s.decisions,
            "approved": s.approved,
            "modified": s.modified,
            "rejected": s.rejected,
            "approval_rate": s.approval_rate,
            "modification_rate": s.modification_rate,
            "rejection_rate": s.rejection_rate,
            "acceptance_rate": s.acceptance_rate,
            "median_seconds_to_decision": _seconds(s.median_seconds_to_decision),
            "p90_seconds_to_decision": _seconds(s.p90_seconds_to_decision),
            "median_review_seconds": _seconds(s.median_review_seconds),
            "flagged": s.flagged,
        }


# The fields of a trend bucket, in as_json's order: the API schema and the CSV header.
TREND_FIELDS = (
    "start",
    "decisions",
    "approved",
    "modified",
    "rejected",
    "approval_rate",
    "modification_rate",
    "rejection_rate",
    "acceptance_rate",
    "median_seconds_to_decision",
    "p90_seconds_to_decision",
    "median_review_seconds",
    "flagged",
)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


_ROW_FIELDS = ("decided_at", "created_at", "claimed_at", "outcome", "flagged")

# One pass over the run's decisions: width_bucket places each decision between the run's
# boundaries (exactly the Python buckets, whatever the time zone), then counts and
# percentiles per bucket. date_part('epoch', interval) is the exact duration as float8.
_TREND_SQL = """
SELECT width_bucket(d.decided_at, %s::timestamptz[]) AS b,
       count(*),
       count(*) FILTER (WHERE d.outcome = 'approve'),
       count(*) FILTER (WHERE d.outcome = 'modify'),
       count(*) FILTER (WHERE d.outcome = 'reject'),
       percentile_cont(ARRAY[0.5, 0.9]::float8[])
           WITHIN GROUP (ORDER BY date_part('epoch', d.decided_at - d.created_at)),
       percentile_cont(0.5)
           WITHIN GROUP (ORDER BY date_part('epoch', d.decided_at - d.claimed_at)),
       count(*) FILTER (WHERE d.flagged)
FROM ({inner}) AS d
GROUP BY 1
"""


def _compute(filters: TrendFilters, buckets: Sequence[Bucket]) -> dict[Bucket, BucketStats]:
    """The numbers of `buckets`, from the decisions."""
    out = {b: BucketStats() for b in buckets}
    if not filters.queue_ids:
        return out
    for run in runs(buckets):
        qs = filters.decisions().filter(decided_at__gte=run[0].lo, decided_at__lt=run[-1].hi)
        bounds = [b.lo for b in run] + [run[-1].hi]
        inner, params = qs.values(*_ROW_FIELDS).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(_TREND_SQL.format(inner=inner), [bounds, *params])
            for (
                b,
                n,
                approved,
                modified,
                rejected,
                to_decision,
                review,
                flagged,
            ) in cursor.fetchall():
                out[run[b - 1]] = BucketStats(
                    decisions=n,
                    approved=approved,
                    modified=modified,
                    rejected=rejected,
                    median_seconds_to_decision=to_decision[0] if to_decision else None,
                    p90_seconds_to_decision=to_decision[1] if to_decision else None,
                    median_review_seconds=review,
                    flagged=flagged,
                )
    return out


def trend_points(
    *,
    filters: TrendFilters,
    buckets: Sequence[Bucket],
    now: datetime | None = None,
    memo: bool = True,
) -> list[TrendPoint]:
    """The numbers of every bucket: closed ones from the memo when there, the rest from the
    decisions (and closed ones then remembered). memo=False reads only the decisions.

    What is remembered is bounded (memo.py): only cuts that exist (TrendFilters.memoisable)
    and only buckets that start within MEMO_SPAN of now; anything else is counted, one
    query per run of buckets."""
    now = now or timezone.now()
    closed_before = now - CLOSED_AFTER
    found: dict[Bucket, BucketStats] = {}
    signature = filters.signature()
    closed = [b for b in buckets if b.hi <= closed_before]
    memo = memo and bool(closed) and filters.memoisable()
    if memo:
        found.update(memo_read(signature=signature, closed=closed))
    missing = [b for b in buckets if b not in found]
    if missing:
        computed = _compute(filters, missing)
        found.update(computed)
        if memo:
            memo_save(signature=signature, computed=computed, now=now)
    return [TrendPoint(bucket=b, stats=found[b]) for b in buckets]


def trend_for(
    *, user: User, request: TrendRequest, now: datetime | None = None
) -> list[TrendPoint]:
    """The trend a user asked for, within what they may see."""
    scope = metrics_scope(user=user, queue=request.queue, reviewer=request.reviewer)
    return trend_points(filters=filters_for(request, scope), buckets=buckets_for(request), now=now)


def total_of(points: Sequence[TrendPoint]) -> BucketStats:
    """The counts of the whole range (percentiles do not add up: left None)."""
    total = BucketStats()
    for p in points:
        total.decisions += p.stats.decisions
        total.approved += p.stats.approved
        total.modified += p.stats.modified
        total.rejected += p.stats.rejected
        total.flagged += p.stats.flagged
    return total
