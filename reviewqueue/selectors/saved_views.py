"""Reads of a person's saved views of a queue's items list."""

from reviewqueue.models import Queue, SavedView, User
from reviewqueue.models.preferences import LAST_FILTERS


def saved_views_for(*, user: User, queue: Queue) -> tuple[list[SavedView], str | None]:
    """The person's named views of `queue` (by name) and the last filters they used (a query
    string, or None if they never used the list), in one query."""
    views, last = [], None
    for view in SavedView.objects.filter(user=user, queue=queue).order_by("name"):
        if view.name == LAST_FILTERS:
            last = view.query
        else:
            views.append(view)
    return views, last
