"""Reads of recommendations."""

import base64
import binascii
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from reviewqueue import access
from reviewqueue.exceptions import NotFound, ValidationFailed
from reviewqueue.lib.lookup import by_unique_key
from reviewqueue.models import Decision, Queue, Recommendation, Source, User, Vote
from reviewqueue.representations import DECISION_SHOWN, EXECUTION_SHOWN
from reviewqueue.states import DecisionKind, Status


def _with_related(qs: QuerySet[Recommendation]) -> QuerySet[Recommendation]:
    return qs.select_related(
        "queue", "action_type", "assigned_to", "decision__reviewer", "execution"
    )


def shown_fields(*, queue: bool = True) -> list[str]:
    """For `.only()` on a list of items with `_with_related`'s rows: what the item's
    representation shows of the queue, action type and people. A page of 50 otherwise
    carries and parses the queue's and the action type's whole rows (their JSON settings)
    50 times. Of the decision and the execution, what their representations read (a page of
    pending items pays for their columns in every row, NULL or not). `queue=False` for a list
    that sets each item's queue itself."""
    return [
        *(f.name for f in Recommendation._meta.concrete_fields),
        *(["queue__slug"] if queue else []),
        "action_type__name",
        "assigned_to__username",
        *(f"decision__{name}" for name in DECISION_SHOWN),
        "decision__reviewer__username",
        *(f"execution__{name}" for name in EXECUTION_SHOWN),
    ]


def recommendation_get_for_source(*, source: Source, recommendation_id: str) -> Recommendation:
    """A source sees only its own items; anything else is 404, never 403."""
    try:
        pk = uuid.UUID(recommendation_id)
    except ValueError:
        raise NotFound("No recommendation with this id.") from None
    rec = by_unique_key(_with_related(Recommendation.objects.filter(pk=pk, source=source)))
    if rec is None:
        raise NotFound("No recommendation with this id.")
    return rec


def recommendation_get_for_user(*, user: User, recommendation_id: str) -> Recommendation:
    """People see items of queues they belong to; admins and auditors see all. Others: 404."""
    try:
        pk = uuid.UUID(recommendation_id)
    except ValueError:
        raise NotFound("No recommendation with this id.") from None
    rec = by_unique_key(
        access.visible_recommendations(user, _with_related(Recommendation.objects.filter(pk=pk)))
    )
    if rec is None:
        raise NotFound("No recommendation with this id.")
    return rec


def undo_offer(
    *, user: User, queue: Queue, recommendation_id: Any, now: datetime | None = None
) -> datetime | None:
    """Until when `user` may still undo their decision on this item of `queue` (the window
    of services/undo.py), or None: no such decision of theirs, undo off, or already passed."""
    if not queue.undo_seconds:
        return None
    decided_at = (
        Decision.objects.filter(
            recommendation_id=recommendation_id,
            recommendation__queue=queue,
            reviewer=user,
            kind=DecisionKind.HUMAN,
        )
        .values_list("decided_at", flat=True)
        .first()
    )
    if decided_at is None:  # consensus: a vote of theirs (services/undo._vote_undo)
        decided_at = (
            Vote.objects.filter(recommendation_id=recommendation_id, queue=queue, reviewer=user)
            .values_list("created_at", flat=True)
            .first()
        )
    if decided_at is None:
        return None
    until: datetime = decided_at + timedelta(seconds=queue.undo_seconds)
    return until if until > (now or timezone.now()) else None


def held_item(
    *, user: User, queue: Queue | str, now: datetime | None = None
) -> Recommendation | None:
    """The item of `queue` (a Queue or its slug) that `user` holds under a live lease, or
    None. Reads only: the review page shows it on GET, and the claim gives it back first
    (so a reload never loses it). The same rule as the claim: someone who may not review
    anything holds nothing; membership of the queue is the caller's check (`queue_access`)."""
    if not access.may_review_anything(user):
        return None
    slug = queue.slug if isinstance(queue, Queue) else queue
    return (
        Recommendation.objects.select_related("queue", "action_type")
        .filter(
            queue__slug=slug,
            status=Status.IN_REVIEW,
            claimed_by=user,
            lease_expires_at__gt=now or timezone.now(),
        )
        .order_by("claimed_at")
        .first()
    )


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), uuid.UUID(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            "Bad cursor.", errors={"cursor": "Not a cursor from this API."}
        ) from None


def _encode_cursor(rec: Recommendation) -> str:
    return base64.urlsafe_b64encode(f"{rec.created_at.isoformat()}|{rec.id}".encode()).decode()


def recommendation_list_for_source(
    *,
    source: Source,
    external_id: str | None = None,
    status: str | None = None,
    queue: str | None = None,
    flagged: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Recommendation], str | None]:
    """The source's items, newest first, keyset-paginated; `external_id` looks one up;
    `flagged` keeps those with (True) or without (False) anomaly flags."""
    qs = _with_related(Recommendation.objects.filter(source=source)).only(*shown_fields())
    if external_id is not None:
        qs = qs.filter(external_id=external_id)
    if status:
        qs = qs.filter(status=status)
    if queue:
        qs = qs.filter(queue__slug=queue)
    if flagged is not None:
        qs = qs.exclude(flags=[]) if flagged else qs.filter(flags=[])
    if cursor:
        created, pk = _decode_cursor(cursor)
        # A row comparison, so the (source, created_at, id) index starts at the cursor.
        qs = qs.filter(
            RawSQL(
                '("reviewqueue_recommendation"."created_at", "reviewqueue_recommendation"."id")'
                " < (%s, %s)",
                [created, pk],
                output_field=BooleanField(),
            )
        )
    rows = list(qs.order_by("-created_at", "-id")[: limit + 1])
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor
