"""Reads of notifications: what each person chose to get by email, and for operations how
many rows wait and how many are dead (each count over its partial index)."""

from collections.abc import Iterable

from reviewqueue.domain.notifications import Event, Status, email_events
from reviewqueue.models import Notification, NotificationPreference, User


def email_events_of(users: Iterable[User]) -> dict[int, frozenset[Event]]:
    """Each person's chosen email events, the defaults for who never chose (one query)."""
    ids = [u.pk for u in users]
    chosen = dict(
        NotificationPreference.objects.filter(user_id__in=ids).values_list(
            "user_id", "email_events"
        )
    )
    return {pk: email_events(chosen.get(pk)) for pk in ids}


def notification_counts() -> dict[str, int]:
    """{"pending": n, "dead": n}."""
    return {
        status.value: Notification.objects.filter(status=status).count()
        for status in (Status.PENDING, Status.DEAD)
    }
