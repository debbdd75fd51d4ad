"""Reads for an item's page: the item with its decision and execution, and its audit trail."""

from reviewqueue import access
from reviewqueue.exceptions import NotFound
from reviewqueue.lib.ids import RecommendationId
from reviewqueue.models import AuditEvent, ExecutionAttempt, Recommendation, User


def recommendation_for_reader(*, user: User, recommendation_id: RecommendationId) -> Recommendation:
    """The item, for members of its queue, admins and auditors. Anyone else gets NotFound
    (404, not 403): an outsider cannot learn which ids exist."""
    rec = (
        Recommendation.objects.select_related(
            "queue", "action_type", "source", "claimed_by", "decision__reviewer", "execution"
        )
        .filter(pk=recommendation_id)
        .first()
    )
    if rec is None:
        raise NotFound("No recommendation with this id.")
    if not access.can_read_item(user, rec):
        raise NotFound("No recommendation with this id.")
    return rec


VOTE_ACTIONS = ("recommendation.voted", "recommendation.vote_undone")


def audit_timeline(
    *, recommendation: Recommendation, viewer: User | None = None
) -> list[AuditEvent]:
    """Every audit event of the item, in the order they were written. For a `viewer` who may
    not see the votes yet (consensus, access.may_see_votes), others' votes show that they
    happened, not what they said."""
    events = list(AuditEvent.objects.filter(recommendation=recommendation).order_by("id"))
    if viewer is None or recommendation.reviewers_needed <= 1:
        return events
    role = access.review_role(viewer, recommendation.queue)
    if access.may_see_votes(viewer, recommendation, senior=access.takes_escalated(role)):
        return events
    for event in events:
        if event.action in VOTE_ACTIONS and event.actor_user_id != viewer.pk:
            event.data = {"vote": "private until the item is resolved"}
    return events


def execution_attempts(*, recommendation: Recommendation) -> list[ExecutionAttempt]:
    execution = getattr(recommendation, "execution", None)
    if execution is None:
        return []
    return list(execution.attempt_rows.order_by("number"))
