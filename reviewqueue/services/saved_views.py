"""A person's saved views of a queue's items list, and the last filters they used. These are
preferences, not the product's state: nothing here is audited."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from reviewqueue.exceptions import NotFound, ValidationFailed
from reviewqueue.models import Queue, SavedView, User
from reviewqueue.models.preferences import LAST_FILTERS

MAX_VIEWS = 10
MAX_NAME = 60
MAX_QUERY = 2000


def saved_view_save(*, user: User, queue: Queue, name: str, query: str) -> SavedView:
    """Keep the list's filters `query` (a normalised query string) under `name`, one of at most
    MAX_VIEWS per person and queue. Names are 1 to MAX_NAME characters (spaces collapsed) and
    unique per person and queue, whatever their case. Not audited (a preference)."""
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed("Give the view a name.", errors={"name": "Give the view a name."})
    if len(name) > MAX_NAME:
        message = f"A view's name has at most {MAX_NAME} characters."
        raise ValidationFailed(message, errors={"name": message})
    if len(query) > MAX_QUERY:
        raise ValidationFailed("These filters are too long to keep.", errors={"query": "Too long."})
    mine = SavedView.objects.filter(user=user, queue=queue).exclude(name=LAST_FILTERS)
    with transaction.atomic():
        # Serialises one person's saves in this queue, so two tabs cannot pass the count.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if mine.filter(name__iexact=name).exists():
            message = f"You already have a view named “{name}”: pick another name, or delete that one first."
            raise ValidationFailed(message, errors={"name": message})
        if mine.count() >= MAX_VIEWS:
            message = f"You can keep up to {MAX_VIEWS} views in a queue: delete one first."
            raise ValidationFailed(message, errors={"name": message})
        try:
            with transaction.atomic():
                return SavedView.objects.create(user=user, queue=queue, name=name, query=query)
        except IntegrityError:
            message = f"You already have a view named “{name}”."
            raise ValidationFailed(message, errors={"name": message}) from None


def saved_view_delete(*, user: User, queue: Queue, view_id: int) -> str:
    """Delete one of the person's own views of `queue` (anyone else's: NotFound). Returns its
    name. Not audited."""
    view = (
        SavedView.objects.filter(pk=view_id, user=user, queue=queue)
        .exclude(name=LAST_FILTERS)
        .first()
    )
    if view is None:
        raise NotFound("No such view.")
    view.delete()
    return view.name


def last_filters_remember(*, user: User, queue: Queue, query: str) -> None:
    """Remember the filters the person last used in `queue`'s list (one row per person and
    queue; written only when they changed). Not audited."""
    if len(query) > MAX_QUERY:
        return
    changed = SavedView.objects.filter(user=user, queue=queue, name=LAST_FILTERS).exclude(
        query=query
    )
    if changed.update(query=query, updated_at=timezone.now()):
        return
    SavedView.objects.get_or_create(
        user=user, queue=queue, name=LAST_FILTERS, defaults={"query": query}
    )
