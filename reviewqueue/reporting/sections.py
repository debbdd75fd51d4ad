"""The reports page's additive sections besides the trend: reasons (Pareto), most-edited
fields, model and prompt versions side by side, and reviewers' productivity. Same
definitions as trend.py: human decisions, decided_at in [lo, hi)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, Q, QuerySet

from reviewqueue.models import Decision, UndoneDecision, User
from reviewqueue.reporting.scope import TrendFilters
from reviewqueue.reporting.tally import Tally, tallied
from reviewqueue.states import DecisionKind, Outcome

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
    bulk: int = 0  # of the decisions, made in a bulk decision (services/bulk.py)
    undone: int = 0  # decisions taken back within the undo window (never in `decisions`)

    @property
    def share_modified(self) -> float | None:
        return _rate(self.modified, self.decisions)


_REVIEWERS_SQL = """
SELECT d.reviewer_id, count(*), count(*) FILTER (WHERE d.outcome = 'modify'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', d.decided_at - d.claimed_at)),
       count(*) FILTER (WHERE d.bulk)
FROM ({inner}) AS d
GROUP BY 1
"""


def reviewers(filters: TrendFilters, lo: datetime, hi: datetime) -> list[ReviewerRow]:
    """Per reviewer: decisions, median review time (decided_at - claimed_at), share modified,
    how many were bulk decisions, and how many decisions they undid in the range (by the
    undone decision's decided_at; undone decisions are never among the decisions). One pass
    over the range's decisions (medians do not add up, so nothing is remembered)."""
    if not filters.queue_ids:
        return []  # a member of no queue; an empty IN () cannot be written out as SQL
    qs = _in_range(filters.decisions(), lo, hi).filter(reviewer__isnull=False)
    inner, params = qs.values(
        "reviewer_id", "outcome", "decided_at", "claimed_at", "bulk"
    ).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(_REVIEWERS_SQL.format(inner=inner), params)
        found: dict[int, tuple[int, int, float | None, int]] = {
            r: (n, m, median, b) for r, n, m, median, b in cursor.fetchall()
        }
    undone = _undone_counts(filters, lo, hi)
    names = dict(
        User.objects.filter(pk__in=list(found.keys() | undone.keys())).values_list("pk", "username")
    )
    out = [
        ReviewerRow(
            reviewer=names.get(reviewer_id, str(reviewer_id)),
            decisions=n,
            modified=m,
            median_review_seconds=None if median is None else round(median, 3),
            bulk=b,
            undone=undone.get(reviewer_id, 0),
        )
        for reviewer_id, (n, m, median, b) in found.items()
    ]
    out += [
        ReviewerRow(names.get(r, str(r)), 0, 0, None, undone=u)
        for r, u in undone.items()
        if r not in found
    ]
    return sorted(out, key=lambda r: (-r.decisions, r.reviewer))


def _undone_counts(filters: TrendFilters, lo: datetime, hi: datetime) -> dict[int, int]:
    """Decisions each reviewer took back, in the filters' queues (and reviewer), by the
    undone decision's decided_at in [lo, hi)."""
    qs = UndoneDecision.objects.filter(
        queue_id__in=filters.queue_ids,
        decided_at__gte=lo,
        decided_at__lt=hi,
        reviewer__isnull=False,
    )
    if filters.reviewer_id is not None:
        qs = qs.filter(reviewer_id=filters.reviewer_id)
    rows = qs.values_list("reviewer_id").annotate(n=Count("id")).order_by()
    return {int(r): int(n) for r, n in rows}
