"""Time: the SLA and expiry sweep. Flags open items past their due time as overdue, escalates
overdue pending items to the seniors where the queue says so, and closes items past their
expires_at as `expired` (never an approval). Run by beat every minute (tasks.sla_sweep).

Each step is a few set-based statements in its own transaction: lock a batch of matching
rows (SKIP LOCKED, so a reviewer's claim or decision is never waited on), update them all
with one UPDATE, write their audit events with one INSERT. A batch is bounded; what is left
over goes in the next run.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from reviewqueue.models import AuditEvent, Recommendation
from reviewqueue.services.audit import audit_chain_order
from reviewqueue.states import OPEN_STATUSES, Status, is_legal

BATCH = 1000
_OPEN = [s.value for s in OPEN_STATUSES]
_AUDIT_FIELDS = ("pk", "status", "queue_id", "model_name", "model_version", "prompt_version")


@dataclass(frozen=True)
class SweepResult:
    overdue: int
    escalated: int
    expired: int


def _lock(qs: QuerySet[Recommendation], *extra: str) -> list[tuple[Any, ...]]:
    return list(
        qs.order_by()
        .select_for_update(skip_locked=True, of=("self",))
        .values_list(*_AUDIT_FIELDS, *extra)[:BATCH]
    )


def _audit(rows: list[tuple[Any, ...]], action: str, label: str, data: Any) -> None:
    AuditEvent.objects.bulk_create(
        audit_chain_order(
            AuditEvent(
                action=action,
                actor_kind="system",
                actor_label=label,
                recommendation_id=row[0],
                queue_id=row[2],
                model_name=row[3],
                model_version=row[4],
                prompt_version=row[5],
                data=data(row),
            )
            for row in rows
        )
    )


def recommendations_flag_overdue(*, now: datetime | None = None) -> int:
    """Open items whose due_at (created_at + the queue's SLA) has passed get `overdue_at`.
    Flagged once. Audited: `recommendation.overdue` per item, with its due time."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = _lock(
            Recommendation.objects.filter(
                status__in=_OPEN, overdue_at__isnull=True, due_at__isnull=False, due_at__lte=now
            ),
            "due_at",
        )
        if not rows:
            return 0
        Recommendation.objects.filter(pk__in=[r[0] for r in rows]).update(
            overdue_at=now, updated_at=now
        )
        _audit(rows, "recommendation.overdue", "sla", lambda r: {"due_at": r[6].isoformat()})
    return len(rows)


def recommendations_escalate_overdue(*, now: datetime | None = None) -> int:
    """Overdue items still pending in a queue with `sla_escalate` go to the senior reviewers
    (an item under review is left to its reviewer; if its lease runs out it comes back
    pending and is escalated by the next run). Audited: `recommendation.escalated` per item,
    with reason `sla`."""
    now = now or timezone.now()
    assert is_legal(Status.PENDING, Status.ESCALATED)
    with transaction.atomic():
        rows = _lock(
            Recommendation.objects.filter(
                status=Status.PENDING, overdue_at__isnull=False, queue__sla_escalate=True
            ),
            "due_at",
        )
        if not rows:
            return 0
        Recommendation.objects.filter(pk__in=[r[0] for r in rows]).update(
            status=Status.ESCALATED, escalated_at=now, updated_at=now
        )
        _audit(
            rows,
            "recommendation.escalated",
            "sla",
            lambda r: {"reason": "sla", "due_at": r[6].isoformat() if r[6] else None},
        )
    return len(rows)


def recommendations_expire_due(*, now: datetime | None = None) -> int:
    """Open items past their expires_at close as `expired`: never approvable, counted apart
    from decisions (they get no Decision row). A held item loses its lease. Audited:
    `recommendation.expired` per item (the same event as recommendation_expire)."""
    now = now or timezone.now()
    assert all(is_legal(Status(s), Status.EXPIRED) for s in _OPEN)
    with transaction.atomic():
        rows = _lock(
            Recommendation.objects.filter(
                status__in=_OPEN, expires_at__isnull=False, expires_at__lte=now
            ),
            "expires_at",
        )
        if not rows:
            return 0
        Recommendation.objects.filter(pk__in=[r[0] for r in rows]).update(
            status=Status.EXPIRED,
            closed_at=now,
            updated_at=now,
            claimed_by=None,
            lease_expires_at=None,
        )
        _audit(
            rows,
            "recommendation.expired",
            "expiry",
            lambda r: {"expires_at": r[6].isoformat(), "from_status": r[1]},
        )
    return len(rows)


def sla_sweep(*, now: datetime | None = None) -> SweepResult:
    """Expire first (an expired item is neither overdue nor escalated), then flag overdue,
    then escalate what the queue says to escalate."""
    now = now or timezone.now()
    expired = recommendations_expire_due(now=now)
    overdue = recommendations_flag_overdue(now=now)
    escalated = recommendations_escalate_overdue(now=now)
    return SweepResult(overdue=overdue, escalated=escalated, expired=expired)
