"""Assignment: a senior or admin of a queue gives an open item to one of its reviewers.

Claim-next offers an assigned item to its assignee before anything else
(services/transitions.claim_next); it is not reserved: others may still take it. Assigning
is not a status move (the item stays where it is), so it is a filtered UPDATE on the open
statuses here, with its audit row.
"""

from django.db import transaction
from django.utils import timezone

from reviewqueue import access
from reviewqueue.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from reviewqueue.lib.ids import RecommendationId
from reviewqueue.models import Recommendation, User
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.services.notifications import notify_assigned
from reviewqueue.states import OPEN_STATUSES, Status

# An item still waiting (or in someone's hands) can be assigned; a shadow item of a blind
# queue waits for a reviewer like a pending one.
ASSIGNABLE = frozenset({*OPEN_STATUSES, Status.SHADOW})


def recommendation_assign(
    *, user: User, recommendation_id: RecommendationId, assignee: str | None
) -> Recommendation:
    """Assign the item to the member named `assignee` (a username), or unassign it (None).

    Preconditions: the caller reads the item (else 404) and is a senior of its queue or an
    admin (else 403); the assignee exists and may review the queue (else 400, keyed `user`);
    the item is open (else 409 `not_open`). Assigning it to whom it is already assigned
    changes nothing and writes nothing. The assignee is notified (services/notifications).
    Audited: `recommendation.assigned` with the assignee and the previous one.
    """
    rec = (
        Recommendation.objects.select_related("queue", "action_type", "assigned_to")
        .filter(pk=recommendation_id)
        .first()
    )
    if rec is None or not access.can_read_item(user, rec):
        raise NotFound("No recommendation with this id.")
    if not access.may_assign(user, rec.queue):
        raise Forbidden(f"Only senior reviewers and admins of queue '{rec.queue.slug}' assign.")
    person = _assignee(assignee, rec)
    previous = rec.assigned_to.get_username() if rec.assigned_to else None
    if (person.pk if person else None) == rec.assigned_to_id:
        return rec
    now = timezone.now()
    with transaction.atomic():
        changed = Recommendation.objects.filter(pk=rec.pk, status__in=ASSIGNABLE).update(
            assigned_to=person, updated_at=now
        )
        if changed != 1:
            rec.refresh_from_db(fields=["status"])
            raise Conflict(
                f"Only open items are assigned; this one is {rec.status}.", reason="not_open"
            )
        rec.assigned_to, rec.updated_at = person, now
        audit_record(
            action="recommendation.assigned",
            actor=Actor.of_user(user),
            recommendation=rec,
            data={"assignee": person.get_username() if person else None, "previous": previous},
        )
        if person is not None:
            notify_assigned(recommendation=rec, assignee=person)
    return rec


def _assignee(name: str | None, rec: Recommendation) -> User | None:
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed(
            "Name the person to assign.", errors={"user": "A username, or null to unassign."}
        )
    person = User.objects.filter(username=name).first()
    if person is None or not access.can_review(person, rec.queue):
        raise ValidationFailed(
            "That person cannot review this queue.",
            errors={"user": f"'{name[:150]}' is not a reviewer of queue '{rec.queue.slug}'."},
        )
    return person
