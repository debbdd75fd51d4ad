"""Time: the SLA and expiry sweep. Flags open items past their due time as overdue, escalates
overdue pending items to the seniors where the queue says so, and closes items past their
expires_at as `expired` (never an approval). Run by beat every minute (tasks.sla_sweep).

Each step is a few set-based statements in its own transaction: lock a batch of matching
rows (SKIP LOCKED, so a reviewer's claim or decision is never waited on), update them all
with one UPDATE, write their audit events with one INSERT. A batch is bounded; what is left
over goes in the next run. Escalations and SLA warnings are notified
(services/notifications) in the same transaction.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from reviewqueue.models import Queue, Recommendation
from reviewqueue.services.audit import Actor, audit_event, audit_records
from reviewqueue.services.notifications import notify_escalated, notify_sla_warning
from reviewqueue.services.transitions import expired_values, lock_batch, move_locked
from reviewqueue.states import OPEN_STATUSES, Status

BATCH = 1000


@dataclass(frozen=True)
class SweepResult:
    overdue: int
    escalated: int
    expired: int
    warned: int = 0


def recommendations_flag_overdue(*, now: datetime | None = None) -> int:
    """Open items whose due_at (created_at + the queue's SLA) has passed get `overdue_at`.
    Flagged once; not a status move. Audited: `recommendation.overdue` per item, with its
    due time."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = lock_batch(
            Recommendation.objects.filter(
                status__in=OPEN_STATUSES,
                overdue_at__isnull=True,
                due_at__isnull=False,
                due_at__lte=now,
            ),
            "due_at",
            limit=BATCH,
        )
        if not rows:
            return 0
        Recommendation.objects.filter(pk__in=[r.pk for r in rows]).update(
            overdue_at=now, updated_at=now
        )
        actor = Actor.system("sla")
        audit_records(
            audit_event(
                action="recommendation.overdue",
                actor=actor,
                recommendation=r,
                data={"due_at": r.due_at.isoformat() if r.due_at else None},
            )
            for r in rows
        )
    return len(rows)


def recommendations_escalate_overdue(*, now: datetime | None = None) -> int:
    """Overdue items still pending in a queue with `sla_escalate` go to the senior reviewers
    (an item under review is left to its reviewer; if its lease runs out it comes back
    pending and is escalated by the next run). Audited: `recommendation.escalated` per item,
    with reason `sla`."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = lock_batch(
            Recommendation.objects.filter(
                status=Status.PENDING, overdue_at__isnull=False, queue__sla_escalate=True
            ),
            "due_at",
            "external_id",
            limit=BATCH,
        )
        moved = move_locked(
            rows,
            sources=[Status.PENDING],
            to=Status.ESCALATED,
            values={"escalated_at": now, "updated_at": now},
            action="recommendation.escalated",
            actor=Actor.system("sla"),
            data=lambda r: {"reason": "sla", "due_at": r.due_at.isoformat() if r.due_at else None},
        )
        notify_escalated(rows, at=now, reason="overdue")
        return moved


def recommendations_warn_sla(*, now: datetime | None = None) -> int:
    """Open items of queues with `sla_warning_minutes` whose due time is that close (and not
    yet passed) are warned about, once each: `sla_warned_at` is set by a filtered UPDATE
    in the same transaction as the notification rows (services/notifications). Not a status
    move and not audited (the notification rows are the record)."""
    now = now or timezone.now()
    warned = 0
    queues = Queue.objects.filter(sla_warning_minutes__gt=0, sla_minutes__isnull=False)
    for queue_id, minutes in queues.values_list("pk", "sla_warning_minutes"):
        with transaction.atomic():
            rows = list(
                Recommendation.objects.filter(
                    queue_id=queue_id,
                    status__in=OPEN_STATUSES,
                    overdue_at__isnull=True,
                    due_at__isnull=False,
                    due_at__gt=now,
                    due_at__lte=now + timedelta(minutes=minutes or 0),
                    sla_warned_at__isnull=True,
                )
                .order_by("due_at")
                .select_for_update(skip_locked=True, of=("self",))
                .only("pk", "queue_id", "external_id", "status", "assigned_to_id", "due_at")[:BATCH]
            )
            if not rows:
                continue
            Recommendation.objects.filter(pk__in=[r.pk for r in rows]).update(sla_warned_at=now)
            notify_sla_warning(rows)
            warned += len(rows)
    return warned


def recommendations_expire_due(*, now: datetime | None = None) -> int:
    """Open items past their expires_at close as `expired`: never approvable, counted apart
    from decisions (they get no Decision row). A held item loses its lease. Audited:
    `recommendation.expired` per item (the same event as review.recommendation_expire)."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = lock_batch(
            Recommendation.objects.filter(
                status__in=OPEN_STATUSES, expires_at__isnull=False, expires_at__lte=now
            ),
            "expires_at",
            limit=BATCH,
        )
        return move_locked(
            rows,
            sources=OPEN_STATUSES,
            to=Status.EXPIRED,
            values=expired_values(now),
            action="recommendation.expired",
            actor=Actor.system("expiry"),
            data=lambda r: {
                "expires_at": r.expires_at.isoformat() if r.expires_at else None,
                "from_status": r.status,
            },
        )


def sla_sweep(*, now: datetime | None = None) -> SweepResult:
    """Expire first (an expired item is neither overdue nor escalated), then flag overdue,
    then escalate what the queue says to escalate, then warn about items near their SLA."""
    now = now or timezone.now()
    expired = recommendations_expire_due(now=now)
    overdue = recommendations_flag_overdue(now=now)
    escalated = recommendations_escalate_overdue(now=now)
    warned = recommendations_warn_sla(now=now)
    return SweepResult(overdue=overdue, escalated=escalated, expired=expired, warned=warned)
