"""The evidence behind a queue's readiness for its next stage, read from the decisions,
executions and audit trail; the judging is domain/readiness.py (pure)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Min, Q
from django.utils import timezone

from reviewqueue.domain.readiness import (
    ApprovalEvidence,
    Day,
    Readiness,
    ShadowEvidence,
    SupervisedEvidence,
    readiness_config,
    readiness_evaluate,
)
from reviewqueue.models import AuditEvent, Decision, Queue
from reviewqueue.reporting.buckets import buckets_for
from reviewqueue.reporting.parameters import TrendRequest
from reviewqueue.reporting.scope import TrendFilters
from reviewqueue.reporting.tally import Tally, tallied
from reviewqueue.reporting.trend import trend_points
from reviewqueue.selectors.incidents import high_incident_count
from reviewqueue.states import DecisionKind, ExecutionStatus, Outcome, QaVerdict, Route, Stage

# What counts as a person stepping in on a supervised queue (audit actions).
INTERVENTIONS = ("execution.retry_requested", "breaker.resumed")


def shadow_evidence(*, queue: Queue, window: int) -> ShadowEvidence:
    """The last `window` compared items: shadow items whose human outcome is known, reported
    by the source or decided in a blind review."""
    outcomes = list(
        Decision.objects.filter(queue=queue)
        .filter(
            Q(kind=DecisionKind.EXTERNAL)
            | Q(kind=DecisionKind.HUMAN, recommendation__route=Route.SHADOW)
        )
        .order_by("-decided_at", "-id")
        .values_list("outcome", "is_cosmetic")[:window]
    )
    agreed = sum(
        1
        for outcome, cosmetic in outcomes
        if outcome == Outcome.APPROVE or (outcome == Outcome.MODIFY and cosmetic)
    )
    return ShadowEvidence(agreed=agreed, compared=len(outcomes))


def approval_evidence(*, queue: Queue, days: int, now: datetime) -> ApprovalEvidence:
    """The last `days` whole UTC days (today excluded): decisions and approvals per day, and
    how many modifications were cosmetic. Days come from the trend (and its memo). High
    incidents are counted from the first of those days up to now: today's count too."""
    today = now.astimezone(UTC).date()
    request = TrendRequest(start=today - timedelta(days=days), end=today, tz=ZoneInfo("UTC"))
    filters = TrendFilters(queue_ids=(queue.pk,))
    points = trend_points(filters=filters, buckets=buckets_for(request), now=now)
    lo, hi = points[0].bucket.lo, points[-1].bucket.hi

    def count(lo: datetime, hi: datetime) -> Tally:
        mods = filters.decisions().filter(
            decided_at__gte=lo, decided_at__lt=hi, outcome=Outcome.MODIFY
        )
        found = mods.aggregate(n=Count("id"), cosmetic=Count("id", filter=Q(is_cosmetic=True)))
        return {"": (found["n"], found["cosmetic"])}

    modified, cosmetic = tallied("cosmetic", filters, lo, hi, count, now).get("", (0, 0))
    return ApprovalEvidence(
        days=[
            Day(day=p.bucket.start.date(), decisions=p.stats.decisions, approved=p.stats.approved)
            for p in points
        ],
        modified=modified,
        cosmetic=cosmetic,
        incidents=high_incident_count(queue=queue, since=lo),
    )


def supervised_evidence(*, queue: Queue, days: int, now: datetime) -> SupervisedEvidence:
    """Auto-executed items (policy decisions) of the last `days` whole UTC days, today
    excluded: how many failed (execution dead or refused), how many QA reviewed and marked
    incorrect, and how many were either (each item once)."""
    window_end = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)
    window_start = window_end - timedelta(days=days)
    in_window = Q(decided_at__gte=window_start, decided_at__lt=window_end)
    auto = Decision.objects.filter(queue=queue, kind=DecisionKind.POLICY)
    failed = Q(
        recommendation__execution__status__in=[ExecutionStatus.DEAD, ExecutionStatus.REFUSED]
    )
    rejected = Q(recommendation__qa_review__verdict=QaVerdict.INCORRECT)
    counted = auto.filter(in_window).aggregate(
        auto_executed=Count("id"),
        failed=Count("id", filter=failed),
        qa_reviewed=Count("recommendation__qa_review"),
        qa_rejected=Count("id", filter=rejected),
        errors=Count("id", filter=failed | rejected),
    )
    interventions = AuditEvent.objects.filter(
        queue=queue,
        action__in=INTERVENTIONS,
        occurred_at__gte=window_start,
        occurred_at__lt=window_end,
    ).count()
    return SupervisedEvidence(
        auto_executed=counted["auto_executed"],
        failed=counted["failed"],
        qa_rejected=counted["qa_rejected"],
        first_auto_at=auto.aggregate(first=Min("decided_at"))["first"],
        window_start=window_start,
        interventions=interventions,
        qa_reviewed=counted["qa_reviewed"],
        errors=counted["errors"],
        window_end=window_end,
    )


def readiness_for(*, queue: Queue, now: datetime | None = None) -> Readiness:
    """The queue's gates for its next stage, with this queue's thresholds."""
    now = now or timezone.now()
    config = readiness_config(queue.readiness)
    if queue.stage == Stage.SHADOW:
        return readiness_evaluate(
            stage=queue.stage,
            config=config,
            shadow=shadow_evidence(queue=queue, window=int(config["shadow_window"])),
        )
    if queue.stage == Stage.APPROVAL:
        return readiness_evaluate(
            stage=queue.stage,
            config=config,
            approval=approval_evidence(queue=queue, days=int(config["approval_days"]), now=now),
        )
    if queue.stage == Stage.SUPERVISED:
        return readiness_evaluate(
            stage=queue.stage,
            config=config,
            supervised=supervised_evidence(
                queue=queue, days=int(config["supervised_days"]), now=now
            ),
        )
    return readiness_evaluate(stage=queue.stage, config=config)
