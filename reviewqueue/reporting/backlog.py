"""Backlog and SLA now: open items per queue, the oldest, how many overdue."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import CharField, Count, Min, Q, Value

from reviewqueue.models import Queue, Recommendation
from reviewqueue.states import Status


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
