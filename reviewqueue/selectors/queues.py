"""Reads for the reviewer's pages: the queue overview, recent decisions, the item under review."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from reviewqueue import access
from reviewqueue.lib.ids import RecommendationId
from reviewqueue.models import AuditEvent, Decision, Queue, Recommendation, User, Vote
from reviewqueue.states import OPEN_STATUSES, Status


@dataclass(frozen=True)
class QueueRow:
    queue: Queue
    role: str | None  # the user's membership role; None: may read, may not review
    waiting: int  # pending, plus escalated for seniors, plus shadow items in a blind queue
    escalated: int
    oldest_waiting_at: datetime | None
    overdue: int
    expired: int = 0  # closed as expired in the last EXPIRED_DAYS days; never a decision

    @property
    def can_review(self) -> bool:
        return self.role is not None

    @property
    def senior(self) -> bool:
        return access.takes_escalated(self.role)


EXPIRED_DAYS = 7


def queue_rows_for(*, user: User, now: datetime | None = None) -> list[QueueRow]:
    """The user's queues with their backlog; admins and auditors see every queue. Two
    queries: the queues with memberships, and one grouped count over open items. Shadow
    items of a blind-review queue wait for a reviewer like pending ones (the claim takes
    them after the pending ones), so they count as waiting."""
    now = now or timezone.now()
    roles = access.queue_roles(user)
    queues = Queue.objects.order_by("name")
    queue_list = list(
        queues if access.reads_every_queue(user) else queues.filter(pk__in=list(roles))
    )
    open_values = [s.value for s in OPEN_STATUSES]
    stats: dict[int, Any] = {
        row["queue"]: row
        for row in Recommendation.objects.filter(queue__in=queue_list)
        .filter(
            Q(status__in=[*open_values, Status.SHADOW.value])
            | Q(status=Status.EXPIRED, closed_at__gte=now - timedelta(days=EXPIRED_DAYS))
        )
        .values("queue")
        .annotate(
            expired=Count("id", filter=Q(status=Status.EXPIRED)),
            pending=Count("id", filter=Q(status=Status.PENDING)),
            escalated=Count("id", filter=Q(status=Status.ESCALATED)),
            oldest_pending=Min("created_at", filter=Q(status=Status.PENDING)),
            oldest_escalated=Min("created_at", filter=Q(status=Status.ESCALATED)),
            shadow=Count("id", filter=Q(status=Status.SHADOW)),
            oldest_shadow=Min("created_at", filter=Q(status=Status.SHADOW)),
            overdue=Count("id", filter=Q(due_at__lt=now) & Q(status__in=open_values)),
            overdue_pending=Count("id", filter=Q(due_at__lt=now) & Q(status=Status.PENDING)),
            overdue_escalated=Count("id", filter=Q(due_at__lt=now) & Q(status=Status.ESCALATED)),
        )
    }
    rows = []
    for queue in queue_list:
        s = stats.get(queue.pk, {})
        senior = access.takes_escalated(roles.get(queue.pk))
        blind = queue.blind_review
        oldest = [
            s.get("oldest_pending"),
            s.get("oldest_escalated") if senior else None,
            s.get("oldest_shadow") if blind else None,
        ]
        rows.append(
            QueueRow(
                queue=queue,
                role=roles.get(queue.pk),
                waiting=s.get("pending", 0)
                + (s.get("escalated", 0) if senior else 0)
                + (s.get("shadow", 0) if blind else 0),
                escalated=s.get("escalated", 0),
                oldest_waiting_at=min((t for t in oldest if t is not None), default=None),
                overdue=_overdue_for(s, roles.get(queue.pk), senior),
                expired=s.get("expired", 0),
            )
        )
    return rows


def _overdue_for(stats: dict[str, Any], role: str | None, senior: bool) -> int:
    """Overdue items the viewer can act on: a reviewer's are the pending ones, a senior's
    also the escalated ones; someone who reads the queue without reviewing it (an admin or
    auditor who is no member) oversees them all, held ones included."""
    if role is None:
        return int(stats.get("overdue", 0))
    return int(stats.get("overdue_pending", 0)) + (
        int(stats.get("overdue_escalated", 0)) if senior else 0
    )


def recent_decisions_for(*, user: User, limit: int = 20) -> list[Decision]:
    return list(
        Decision.objects.filter(reviewer=user)
        .select_related("recommendation", "queue", "action_type")
        .order_by("-decided_at", "-id")[:limit]
    )


def waiting_count(*, queue: Queue, senior: bool, user: User | None = None) -> int:
    """Items a reviewer of `queue` could claim next (not counting the one in hand): shadow
    items too in a blind-review queue, as the claim takes them; with `user`, not those they
    voted on (consensus: the claim skips them)."""
    statuses = [Status.PENDING, Status.ESCALATED] if senior else [Status.PENDING]
    if queue.blind_review:
        statuses.append(Status.SHADOW)
    qs = Recommendation.objects.filter(queue=queue, status__in=statuses)
    if user is not None and queue.reviewers_per_item > 1:
        qs = qs.exclude(Exists(Vote.objects.filter(recommendation=OuterRef("pk"), reviewer=user)))
    return qs.count()


def review_item(*, queue: Queue, recommendation_id: RecommendationId) -> Recommendation | None:
    """An item of `queue`, to show again (e.g. with a refused form's errors)."""
    return (
        Recommendation.objects.select_related("queue", "action_type", "source")
        .filter(pk=recommendation_id, queue=queue)
        .first()
    )


def escalation_of(*, recommendation: Recommendation) -> AuditEvent | None:
    """The latest escalation of the item (who, when, their comment) for the senior reviewer."""
    if recommendation.escalated_at is None:
        return None
    return (
        AuditEvent.objects.filter(recommendation=recommendation, action="recommendation.escalated")
        .order_by("-id")
        .first()
    )
