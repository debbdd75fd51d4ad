"""The reports page's numbers besides the trend: reasons (Pareto), most-edited fields, model
and prompt versions side by side, reviewers' productivity, backlog and readiness. Same
definitions as selectors/metrics.py: human decisions, decided_at in [lo, hi)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import CharField, Count, Min, Q, QuerySet, Value
from django.utils import timezone

from reviewqueue.domain.readiness import Readiness
from reviewqueue.models import Decision, MetricsBucket, Queue, Recommendation, User
from reviewqueue.selectors.flag_counts import FlagCounts, flag_counts
from reviewqueue.selectors.metrics import (
    BucketStats,
    Scope,
    TrendFilters,
    TrendPoint,
    TrendRequest,
    buckets_for,
    filters_for,
    local_midnight,
    metrics_scope,
    parse_trend_request,
    total_of,
    trend_points,
)
from reviewqueue.selectors.metrics_readiness import readiness_for
from reviewqueue.selectors.metrics_tally import Tally, tallied
from reviewqueue.states import DecisionKind, Outcome, Status

_AGREED = Q(outcome=Outcome.APPROVE) | Q(outcome=Outcome.MODIFY, is_cosmetic=True)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _in_range(qs: QuerySet[Decision], lo: datetime, hi: datetime) -> QuerySet[Decision]:
    return qs.filter(decided_at__gte=lo, decided_at__lt=hi)


# --- Reasons ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonRow:
    reason_code: str
    count: int
    modified: int
    rejected: int
    share: float  # of all modifications and rejections
    cumulative: float  # Pareto: this reason and every more frequent one


def _reason_counts(filters: TrendFilters) -> Callable[[datetime, datetime], Tally]:
    def count(lo: datetime, hi: datetime) -> Tally:
        rows = (
            _in_range(filters.decisions(), lo, hi)
            .filter(outcome__in=[Outcome.MODIFY, Outcome.REJECT])
            .values_list("reason_code")
            .annotate(
                modified=Count("id", filter=Q(outcome=Outcome.MODIFY)),
                rejected=Count("id", filter=Q(outcome=Outcome.REJECT)),
            )
            .order_by()
        )
        return {code: (modified, rejected) for code, modified, rejected in rows}

    return count


def reasons(
    filters: TrendFilters, lo: datetime, hi: datetime, now: datetime | None = None
) -> list[ReasonRow]:
    """Reason codes of modifications and rejections, most frequent first."""
    counts = tallied("reasons", filters, lo, hi, _reason_counts(filters), now)
    rows = sorted(counts.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))
    total = sum(m + r for _, (m, r) in rows)
    out, running = [], 0
    for code, (modified, rejected) in rows:
        running += modified + rejected
        out.append(
            ReasonRow(
                reason_code=code or "(none)",
                count=modified + rejected,
                modified=modified,
                rejected=rejected,
                share=round((modified + rejected) / total, 4),
                cumulative=round(running / total, 4),
            )
        )
    return out


# --- Most-edited fields -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRow:
    path: str
    count: int  # modifications that changed this field
    share: float  # of all modifications
    cosmetic: int  # of those, cosmetic-only modifications


# A field counts once per modification, even if two changes share its path (json_diff's
# dotted paths: a key "a.b" and a key "b" inside "a").
_FIELDS_SQL = """
SELECT c.path, count(*), count(*) FILTER (WHERE d.is_cosmetic)
FROM ({inner}) AS d CROSS JOIN LATERAL (
    SELECT DISTINCT change->>'path' AS path FROM jsonb_array_elements(d.diff) AS change
) AS c
WHERE jsonb_typeof(d.diff) = 'array'
GROUP BY 1
"""
_MODIFICATIONS = ""  # the tally's key for the number of modifications itself


def _field_counts(filters: TrendFilters) -> Callable[[datetime, datetime], Tally]:
    def count(lo: datetime, hi: datetime) -> Tally:
        qs = _in_range(filters.decisions(), lo, hi).filter(outcome=Outcome.MODIFY)
        modifications = qs.count()
        if not modifications:
            return {}
        found: Tally = {_MODIFICATIONS: (modifications, 0)}
        inner, params = qs.values("diff", "is_cosmetic").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(_FIELDS_SQL.format(inner=inner), params)
            for path, n, cosmetic in cursor.fetchall():
                found[str(path)] = (int(n), int(cosmetic))
        return found

    return count


def edited_fields(
    filters: TrendFilters,
    lo: datetime,
    hi: datetime,
    limit: int = 20,
    now: datetime | None = None,
) -> tuple[int, list[FieldRow]]:
    """(modifications, the fields they changed most often), from the decisions' diffs."""
    counts = tallied("fields", filters, lo, hi, _field_counts(filters), now)
    modifications = counts.pop(_MODIFICATIONS, (0, 0))[0]
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))[:limit]
    return modifications, [
        FieldRow(path=p, count=n, share=round(n / modifications, 4), cosmetic=c)
        for p, (n, c) in ordered
    ]


# --- Versions ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    label: str
    model_name: str | None  # for rows per model version; None per prompt version
    model_version: str | None
    decisions: int
    approved: int
    modified: int
    rejected: int
    compared: int  # human decisions and source-reported (shadow) outcomes
    agreed: int  # of those: approved, or modified cosmetically only

    @property
    def approval_rate(self) -> float | None:
        return _rate(self.approved, self.decisions)

    @property
    def modification_rate(self) -> float | None:
        return _rate(self.modified, self.decisions)

    @property
    def rejection_rate(self) -> float | None:
        return _rate(self.rejected, self.decisions)

    @property
    def agreement_rate(self) -> float | None:
        return _rate(self.agreed, self.compared)


_KEY_SEP = "\x1f"


def _version_counts(
    filters: TrendFilters, by: tuple[str, ...]
) -> Callable[[datetime, datetime], Tally]:
    def count(lo: datetime, hi: datetime) -> Tally:
        human = Q(kind=DecisionKind.HUMAN)
        rows = (
            _in_range(filters.decisions(kinds=(DecisionKind.HUMAN, DecisionKind.EXTERNAL)), lo, hi)
            .values_list(*by)
            .annotate(
                decisions=Count("id", filter=human),
                approved=Count("id", filter=human & Q(outcome=Outcome.APPROVE)),
                modified=Count("id", filter=human & Q(outcome=Outcome.MODIFY)),
                rejected=Count("id", filter=human & Q(outcome=Outcome.REJECT)),
                compared=Count("id"),
                agreed=Count("id", filter=_AGREED),
            )
            .order_by()
        )
        return {_KEY_SEP.join(row[: len(by)]): tuple(row[len(by) :]) for row in rows}

    return count


def versions(
    filters: TrendFilters,
    lo: datetime,
    hi: datetime,
    by: tuple[str, ...],
    now: datetime | None = None,
) -> list[VersionRow]:
    """One row per model (by=("model_name", "model_version")) or prompt version: rates over
    human decisions; agreement also over outcomes reported from shadow mode."""
    counts = tallied("versions:" + ",".join(by), filters, lo, hi, _version_counts(filters, by), now)
    out = []
    for key in sorted(counts):
        parts = dict(zip(by, key.split(_KEY_SEP), strict=True))
        decisions, approved, modified, rejected, compared, agreed = counts[key]
        out.append(
            VersionRow(
                label=" ".join(v for v in parts.values() if v) or "(none)",
                model_name=parts.get("model_name"),
                model_version=parts.get("model_version"),
                decisions=decisions,
                approved=approved,
                modified=modified,
                rejected=rejected,
                compared=compared,
                agreed=agreed,
            )
        )
    return out


# --- Reviewers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewerRow:
    reviewer: str
    decisions: int
    modified: int
    median_review_seconds: float | None

    @property
    def share_modified(self) -> float | None:
        return _rate(self.modified, self.decisions)


_REVIEWERS_SQL = """
SELECT d.reviewer_id, count(*), count(*) FILTER (WHERE d.outcome = 'modify'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', d.decided_at - d.claimed_at))
FROM ({inner}) AS d
GROUP BY 1
"""


def reviewers(filters: TrendFilters, lo: datetime, hi: datetime) -> list[ReviewerRow]:
    """Per reviewer: decisions, median review time (decided_at - claimed_at), share modified.
    One pass over the range's decisions (medians do not add up, so nothing is remembered)."""
    if not filters.queue_ids:
        return []  # a member of no queue; an empty IN () cannot be written out as SQL
    qs = _in_range(filters.decisions(), lo, hi).filter(reviewer__isnull=False)
    inner, params = qs.values(
        "reviewer_id", "outcome", "decided_at", "claimed_at"
    ).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(_REVIEWERS_SQL.format(inner=inner), params)
        found: dict[int, tuple[int, int, float | None]] = {
            r: (n, m, median) for r, n, m, median in cursor.fetchall()
        }
    names = dict(User.objects.filter(pk__in=list(found)).values_list("pk", "username"))
    out = [
        ReviewerRow(
            reviewer=names.get(reviewer_id, str(reviewer_id)),
            decisions=n,
            modified=m,
            median_review_seconds=None if median is None else round(median, 3),
        )
        for reviewer_id, (n, m, median) in found.items()
    ]
    return sorted(out, key=lambda r: (-r.decisions, r.reviewer))


# --- Backlog ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacklogRow:
    queue: Queue
    pending: int
    in_review: int
    escalated: int
    overdue: int  # open and past the queue's SLA (due_at)
    oldest_created_at: datetime | None
    shadow: int = 0  # shadow items a reviewer may claim (blind review queues only)

    @property
    def waiting(self) -> int:
        """Claimable now: pending items, and shadow items of a blind-review queue."""
        return self.pending + self.shadow

    @property
    def open(self) -> int:
        return self.pending + self.shadow + self.in_review + self.escalated


def backlog(queues: list[Queue], now: datetime) -> list[BacklogRow]:
    """Open items per queue: how many, the oldest, how many overdue. One statement: a
    branch per open status, so each reads its own partial index (rec_claim_pending_idx,
    rec_claim_escalated_idx, rec_lease_idx) and stays as small as the backlog, whatever the
    number of decided items. Shadow items count only in blind-review queues: elsewhere they
    wait for the source's human outcome, not for a reviewer."""
    blind = [q for q in queues if q.blind_review]
    branches = [
        Recommendation.objects.filter(
            queue__in=blind if status == Status.SHADOW else queues, status=status
        )
        .values("queue")
        .annotate(
            state=Value(status.value, output_field=CharField()),
            n=Count("id"),
            oldest=Min("created_at"),
            overdue=Count("id", filter=Q(due_at__lt=now)),
        )
        .order_by()
        for status in (Status.PENDING, Status.IN_REVIEW, Status.ESCALATED, Status.SHADOW)
        if status != Status.SHADOW or blind
    ]
    stats: dict[int, dict[str, Any]] = {}
    for queue_id, state, n, oldest, overdue in (
        branches[0]
        .union(*branches[1:], all=True)
        .values_list("queue", "state", "n", "oldest", "overdue")
    ):
        entry = stats.setdefault(queue_id, {"overdue": 0, "oldest": None})
        entry[state] = n
        entry["overdue"] += overdue
        if entry["oldest"] is None or (oldest is not None and oldest < entry["oldest"]):
            entry["oldest"] = oldest
    out = []
    for q in queues:
        s = stats.get(q.pk, {})
        out.append(
            BacklogRow(
                queue=q,
                pending=s.get(Status.PENDING.value, 0),
                in_review=s.get(Status.IN_REVIEW.value, 0),
                escalated=s.get(Status.ESCALATED.value, 0),
                overdue=s.get("overdue", 0),
                oldest_created_at=s.get("oldest"),
                shadow=s.get(Status.SHADOW.value, 0),
            )
        )
    return out


# --- The whole report ----------------------------------------------------------------------------------


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
    points = trend_points(filters=filters, buckets=buckets_for(request), now=now)
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
    )


# --- Warming --------------------------------------------------------------------------------------------

MEMO_KEEP_DAYS = 90


def metrics_warm(*, now: datetime | None = None, days: int = 400) -> int:
    """Count ahead what people open first, so it is fast from the first request: per queue
    and for all queues together, a year of day buckets (UTC) and the reports page's default
    view (the last 30 days). After the first run only newly closed days are counted.
    Remembered buckets not computed for MEMO_KEEP_DAYS are dropped (they are counted again
    when asked for). Returns how many buckets are remembered now."""
    now = now or timezone.now()
    queues = list(Queue.objects.order_by("pk").values_list("pk", flat=True))
    today = now.astimezone(UTC).date()
    year = TrendRequest(start=today - timedelta(days=days - 1), end=today + timedelta(days=1))
    default = parse_trend_request({}, now=now)
    lo = local_midnight(default.start, default.tz)
    hi = local_midnight(default.end, default.tz)
    for queue_ids in [(pk,) for pk in queues] + ([tuple(queues)] if len(queues) > 1 else []):
        filters = TrendFilters(queue_ids=queue_ids)
        trend_points(filters=filters, buckets=buckets_for(year), now=now)
        trend_points(filters=filters, buckets=buckets_for(default), now=now)
        edited_fields(filters, lo, hi, now=now)
        reasons(filters, lo, hi, now=now)
        for by in (("model_name", "model_version"), ("prompt_version",)):
            versions(filters, lo, hi, by=by, now=now)
    MetricsBucket.objects.filter(computed_at__lt=now - timedelta(days=MEMO_KEEP_DAYS)).delete()
    return MetricsBucket.objects.count()
