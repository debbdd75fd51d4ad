"""Reason trends: how often each reason code was given for modifying or rejecting, per day,
week or month (`GET /api/v1/metrics/reasons`, the stacked chart and reason_trend.csv on
/reports/). Same definitions and buckets as trend.py (human decisions, decided_at in the
bucket) and the same reason codes as the reasons section (sections.reasons); a decision
without a reason code counts as "(none)". Closed buckets are remembered per process
(tally.tallied_buckets); one query per run of adjacent buckets counts the rest."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from reviewqueue.models import User
from reviewqueue.reporting.buckets import Bucket, buckets_for, iso_z, runs
from reviewqueue.reporting.parameters import TrendRequest
from reviewqueue.reporting.scope import TrendFilters, filters_for, metrics_scope
from reviewqueue.reporting.tally import Tally, tallied_buckets
from reviewqueue.states import Outcome

NO_REASON = "(none)"

_REASONS_SQL = """
SELECT width_bucket(d.decided_at, %s::timestamptz[]) AS b, d.reason_code, count(*)
FROM ({inner}) AS d
GROUP BY 1, 2
"""


@dataclass(frozen=True)
class ReasonPoint:
    bucket: Bucket
    reasons: dict[str, int]  # most frequent first, then by code

    @property
    def total(self) -> int:
        return sum(self.reasons.values())

    def as_json(self) -> dict[str, Any]:
        return {"start": iso_z(self.bucket.start), "reasons": self.reasons}


def _count(filters: TrendFilters) -> Callable[[Sequence[Bucket]], dict[Bucket, Tally]]:
    def count(buckets: Sequence[Bucket]) -> dict[Bucket, Tally]:
        out: dict[Bucket, Tally] = {}
        if not filters.queue_ids:
            return out
        for run in runs(buckets):
            qs = (
                filters.decisions()
                .filter(decided_at__gte=run[0].lo, decided_at__lt=run[-1].hi)
                .filter(outcome__in=[Outcome.MODIFY, Outcome.REJECT])
            )
            inner, params = qs.values("decided_at", "reason_code").query.sql_with_params()
            bounds = [b.lo for b in run] + [run[-1].hi]
            with connection.cursor() as cursor:
                cursor.execute(_REASONS_SQL.format(inner=inner), [bounds, *params])
                for b, code, n in cursor.fetchall():
                    tally = dict(out.get(run[b - 1], {}))
                    key = code or NO_REASON
                    tally[key] = (tally.get(key, (0,))[0] + int(n),)
                    out[run[b - 1]] = tally
        return out

    return count


def reason_points(
    *, filters: TrendFilters, buckets: Sequence[Bucket], now: datetime | None = None
) -> list[ReasonPoint]:
    found = tallied_buckets("reason-trend", filters, buckets, _count(filters), now)
    points = []
    for b in buckets:
        counts = {code: values[0] for code, values in found.get(b, {}).items()}
        ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        points.append(ReasonPoint(bucket=b, reasons=ordered))
    return points


def reason_trend_for(
    *, user: User, request: TrendRequest, now: datetime | None = None
) -> list[ReasonPoint]:
    """The reason trend a user asked for, within what they may see (as trend.trend_for)."""
    scope = metrics_scope(user=user, queue=request.queue, reviewer=request.reviewer)
    return reason_points(filters=filters_for(request, scope), buckets=buckets_for(request), now=now)


def codes_of(points: Sequence[ReasonPoint]) -> list[str]:
    """Every code in the range, most frequent over the range first: the chart's and the CSV's
    column order."""
    totals: dict[str, int] = {}
    for p in points:
        for code, n in p.reasons.items():
            totals[code] = totals.get(code, 0) + n
    return [c for c, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]
