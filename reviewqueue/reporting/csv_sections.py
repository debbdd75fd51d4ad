"""The reports' CSV downloads (/reports/<section>.csv): one function per section giving the
header row and the rows, for what the user may see. The cells are made safe for
spreadsheets by lib/csv_cells.csv_text (the caller)."""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from reviewqueue.lib.dates import local_midnight
from reviewqueue.models import User
from reviewqueue.reporting.agreement import agreement_csv_rows
from reviewqueue.reporting.backlog import backlog
from reviewqueue.reporting.buckets import buckets_for, iso_z
from reviewqueue.reporting.flag_counts import FLAG_KINDS, flag_counts
from reviewqueue.reporting.parameters import TrendRequest
from reviewqueue.reporting.readiness import readiness_for
from reviewqueue.reporting.reason_trend import codes_of, reason_points
from reviewqueue.reporting.scope import TrendFilters, filters_for, metrics_scope
from reviewqueue.reporting.sections import edited_fields, reasons, reviewers, versions
from reviewqueue.reporting.trend import TREND_FIELDS, trend_points


class SectionHidden(LookupError):
    """The section is not shown to this user (readiness: admins and auditors only); the web
    answers it as a page that does not exist."""


def _trend_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    scope = metrics_scope(user=user, queue=request.queue, reviewer=request.reviewer)
    points = trend_points(
        filters=filters_for(request, scope), buckets=buckets_for(request), now=now
    )
    yield list(TREND_FIELDS)
    for p in points:
        yield list(p.as_json().values())


def _scoped(user: User, request: TrendRequest) -> tuple[Any, TrendFilters, datetime, datetime]:
    scope = metrics_scope(user=user, queue=request.queue, reviewer=request.reviewer)
    lo, hi = local_midnight(request.start, request.tz), local_midnight(request.end, request.tz)
    return scope, filters_for(request, scope), lo, hi


def _reason_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    _, filters, lo, hi = _scoped(user, request)
    yield ["reason_code", "count", "modified", "rejected", "share", "cumulative_share"]
    for r in reasons(filters, lo, hi):
        yield [r.reason_code, r.count, r.modified, r.rejected, r.share, r.cumulative]


def _reason_trend_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    """One row per bucket, one column per code (most frequent first)."""
    _, filters, _, _ = _scoped(user, request)
    points = reason_points(filters=filters, buckets=buckets_for(request), now=now)
    codes = codes_of(points)
    yield ["start", *codes]
    for p in points:
        yield [iso_z(p.bucket.start), *(p.reasons.get(c, 0) for c in codes)]


def _field_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    _, filters, lo, hi = _scoped(user, request)
    yield ["field", "modifications", "share_of_modifications", "cosmetic"]
    for f in edited_fields(filters, lo, hi, limit=1000)[1]:
        yield [f.path, f.count, f.share, f.cosmetic]


def _version_rows(
    by: tuple[str, ...],
) -> Callable[[User, TrendRequest, datetime], Iterable[list[Any]]]:
    def rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
        _, filters, lo, hi = _scoped(user, request)
        unversioned = filters.without_versions()
        yield [
            "version",
            "decisions",
            "approval_rate",
            "modification_rate",
            "rejection_rate",
            "compared",
            "agreement_rate",
        ]
        for v in versions(unversioned, lo, hi, by=by):
            yield [
                v.label,
                v.decisions,
                v.approval_rate,
                v.modification_rate,
                v.rejection_rate,
                v.compared,
                v.agreement_rate,
            ]

    return rows


def _reviewer_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    _, filters, lo, hi = _scoped(user, request)
    yield ["reviewer", "decisions", "median_review_seconds", "share_modified", "bulk", "undone"]
    for r in reviewers(filters, lo, hi):
        yield [r.reviewer, r.decisions, r.median_review_seconds, r.share_modified, r.bulk, r.undone]


def _backlog_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    scope = metrics_scope(user=user, queue=request.queue)
    yield [
        "queue", "open", "pending", "shadow", "in_review", "escalated", "overdue",
        "oldest_created_at",
    ]  # fmt: skip
    for b in backlog(scope.queues, now):
        oldest = iso_z(b.oldest_created_at) if b.oldest_created_at else ""
        yield [
            b.queue.slug, b.open, b.pending, b.shadow, b.in_review, b.escalated, b.overdue,
            oldest,
        ]  # fmt: skip


def _flag_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    scope, filters, lo, hi = _scoped(user, request)
    yield ["queue", "flagged", *(kind.value for kind in FLAG_KINDS)]
    for f in flag_counts(queues=scope.queues, lo=lo, hi=hi, filters=filters):
        yield [f.queue.slug, f.flagged, *(n for _, n in f.kinds)]


def _readiness_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    scope = metrics_scope(user=user, queue=request.queue)
    if scope.own_numbers_only:
        raise SectionHidden("No such report.")
    yield ["queue", "stage", "next_stage", "gate", "status", "window", "evidence"]
    for q in scope.queues:
        readiness = readiness_for(queue=q, now=now)
        for g in readiness.gates:
            yield [
                q.slug,
                readiness.stage,
                readiness.next_stage or "",
                g.label,
                g.status_label,
                g.window,
                g.evidence,
            ]


CSV_SECTIONS: dict[str, Callable[[User, TrendRequest, datetime], Iterable[list[Any]]]] = {
    "trend": _trend_rows,
    "reasons": _reason_rows,
    "reason_trend": _reason_trend_rows,
    "fields": _field_rows,
    "models": _version_rows(("model_name", "model_version")),
    "prompts": _version_rows(("prompt_version",)),
    "reviewers": _reviewer_rows,
    "backlog": _backlog_rows,
    "flags": _flag_rows,
    "readiness": _readiness_rows,
    "agreement": agreement_csv_rows,
}
