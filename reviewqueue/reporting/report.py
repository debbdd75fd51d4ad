"""Everything the reports page shows, in one object: the trend, the sections, the backlog,
readiness and anomaly flags, for what the user may see."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from reviewqueue.domain.readiness import Readiness
from reviewqueue.lib.dates import local_midnight
from reviewqueue.models import Queue, User
from reviewqueue.reporting.agreement import AgreementTable, agreement_for
from reviewqueue.reporting.backlog import BacklogRow, backlog
from reviewqueue.reporting.buckets import BucketStats, buckets_for
from reviewqueue.reporting.flag_counts import FlagCounts, flag_counts
from reviewqueue.reporting.parameters import TrendRequest
from reviewqueue.reporting.readiness import readiness_for
from reviewqueue.reporting.reason_trend import ReasonPoint, reason_points
from reviewqueue.reporting.scope import Scope, filters_for, metrics_scope
from reviewqueue.reporting.sections import (
    FieldRow,
    ReasonRow,
    ReviewerRow,
    VersionRow,
    edited_fields,
    reasons,
    reviewers,
    versions,
)
from reviewqueue.reporting.trend import TrendPoint, total_of, trend_points


@dataclass
class Report:
    request: TrendRequest
    scope: Scope
    now: datetime
    points: list[TrendPoint]
    total: BucketStats
    reasons: list[ReasonRow]
    modifications: int
    fields: list[FieldRow]
    models: list[VersionRow]
    prompts: list[VersionRow]
    reviewers: list[ReviewerRow]
    backlog: list[BacklogRow]
    readiness: list[tuple[Queue, Readiness]]
    flags: list[FlagCounts]  # items that arrived flagged in the range, per queue
    reason_points: list[ReasonPoint]  # reason codes per bucket (the stacked chart)
    agreement: AgreementTable  # inter-reviewer agreement (consensus votes)

    @property
    def lo(self) -> datetime:
        return local_midnight(self.request.start, self.request.tz)

    @property
    def hi(self) -> datetime:
        return local_midnight(self.request.end, self.request.tz)


def report_for(*, user: User, request: TrendRequest, now: datetime | None = None) -> Report:
    """Everything the reports page shows, for what `user` may see. Model and prompt version
    comparisons ignore the version filters (they compare versions)."""
    now = now or timezone.now()
    scope = metrics_scope(user=user, queue=request.queue, reviewer=request.reviewer)
    filters = filters_for(request, scope)
    lo, hi = local_midnight(request.start, request.tz), local_midnight(request.end, request.tz)
    buckets = buckets_for(request)
    points = trend_points(filters=filters, buckets=buckets, now=now)
    unversioned = filters.without_versions()
    modifications, fields = edited_fields(filters, lo, hi, now=now)
    return Report(
        request=request,
        scope=scope,
        now=now,
        points=points,
        total=total_of(points),
        reasons=reasons(filters, lo, hi, now=now),
        modifications=modifications,
        fields=fields,
        models=versions(unversioned, lo, hi, by=("model_name", "model_version"), now=now),
        prompts=versions(unversioned, lo, hi, by=("prompt_version",), now=now),
        reviewers=reviewers(filters, lo, hi),
        backlog=backlog(scope.queues, now),
        readiness=(
            []
            if scope.own_numbers_only
            else [(q, readiness_for(queue=q, now=now)) for q in scope.queues]
        ),
        flags=flag_counts(queues=scope.queues, lo=lo, hi=hi, filters=filters),
        reason_points=reason_points(filters=filters, buckets=buckets, now=now),
        agreement=agreement_for(
            queues=scope.queues,
            lo=lo,
            hi=hi,
            reviewer=scope.reviewer if scope.own_numbers_only else None,
        ),
    )
