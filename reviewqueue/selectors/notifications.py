"""Reads of the notification outbox for operations: how many wait and how many are dead
(each count over its partial index)."""

from reviewqueue.domain.notifications import Status
from reviewqueue.models import Notification


def notification_counts() -> dict[str, int]:
    """{"pending": n, "dead": n}."""
    return {
        status.value: Notification.objects.filter(status=status).count()
        for status in (Status.PENDING, Status.DEAD)
    }
