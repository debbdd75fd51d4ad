"""Leases: items whose holder let go of them (the lease ran out, or they chose another item)
go back where they came from: escalated ones to the seniors, blind-review items to the shadow
items, the rest to pending. Through the transition function (services/transitions.py)."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from reviewqueue.models import Queue, Recommendation
from reviewqueue.services.audit import Actor
from reviewqueue.services.transitions import lock_batch, move_locked, unheld
from reviewqueue.states import Route, Status


def leases_return_expired(*, queue: Queue | None = None, now: datetime | None = None) -> int:
    """Return items whose lease ran out to where they came from: escalated ones to the
    seniors, blind-review items to the shadow items, the rest to pending.

    Runs before every claim and from the periodic sweep, a bounded batch at a time (SKIP
    LOCKED: a reviewer's decision in flight is never waited on). Audited: `lease.expired` per
    item, with the holder's username.
    """
    now = now or timezone.now()
    with transaction.atomic():
        qs = Recommendation.objects.filter(status=Status.IN_REVIEW, lease_expires_at__lte=now)
        if queue is not None:
            qs = qs.filter(queue=queue)
        qs = qs.select_related("claimed_by")
        rows = lock_batch(qs, "claimed_by__username", "escalated_at", "route", limit=1000)
        give_back(
            rows,
            now,
            action="lease.expired",
            actor=Actor.system("lease-sweep"),
            data=lambda row: {"holder": row.claimed_by.username if row.claimed_by else None},
        )
    return len(rows)


def give_back(
    rows: list[Recommendation],
    now: datetime,
    *,
    action: str,
    actor: Actor,
    data: Callable[[Recommendation], dict[str, Any]],
) -> None:
    """Held items (locked by the caller) back where each came from (`back_to`), one UPDATE
    per destination, each audited as `action`."""
    back: dict[Status, list[Recommendation]] = {}
    for row in rows:
        back.setdefault(back_to(row), []).append(row)
    for to, group in sorted(back.items()):
        move_locked(
            group,
            sources=[Status.IN_REVIEW],
            to=to,
            values=unheld(now),
            action=action,
            actor=actor,
            data=data,
        )


def back_to(rec: Recommendation) -> Status:
    """Where a held item goes when its holder lets go of it (release or lease expiry)."""
    if rec.escalated_at is not None:
        return Status.ESCALATED
    return Status.SHADOW if rec.route == Route.SHADOW else Status.PENDING
