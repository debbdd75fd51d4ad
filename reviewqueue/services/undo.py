"""Undo: the person who decided takes the decision back within the queue's undo window.

A human decision's execution and its `decision.made` callback wait until the window has
passed (services/review.py schedules them for then, through the outbox). Inside it, undo
removes both before anything left the app, keeps the decision as an UndoneDecision (never
counted in metrics), and gives the item back to its reviewer under a fresh lease. Whoever
comes second between the undo and the worker's claim finds nothing to do: the execution row
is deleted only while it is pending with no attempt, and the worker claims only a row that
is still there and due.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from reviewqueue import access
from reviewqueue.exceptions import Conflict, Forbidden, NotFound
from reviewqueue.lib.ids import RecommendationId
from reviewqueue.models import (
    CallbackDelivery,
    Decision,
    Execution,
    Recommendation,
    UndoneDecision,
    User,
    Vote,
)
from reviewqueue.representations import decision_repr, execution_repr
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.services.consensus import vote_data
from reviewqueue.services.review import items_for_review
from reviewqueue.services.transitions import move_audited
from reviewqueue.states import DecisionKind, ExecutionStatus, Route, Status

CLOSED = "undo_window_closed"


def recommendation_undo(*, user: User, recommendation_id: RecommendationId) -> Recommendation:
    """Take back the caller's decision on the item.

    Preconditions: the item exists and the caller reviews its queue (404 / 403); it has a
    decision made by a person (409 `not_undoable` for a policy or reported one, `not_decided`
    without one); the caller made it (403); the queue's `undo_seconds` have not passed since
    and its execution has not started nor its callback gone out (409 `undo_window_closed`).
    The item is back in the caller's hands (in review, a fresh lease). Audited:
    `recommendation.undone` with the decision as it was.

    Consensus: a vote is taken back the same way (`_vote_undo`): the vote is deleted, so
    its slot is open again, and the item is back in the caller's hands if it was waiting.
    The vote that completed an agreement is undone with its decision. Once the votes
    disagreed and the item went to the seniors, no vote can be taken back (409
    `undo_window_closed`).
    """
    now = timezone.now()
    rec = (
        items_for_review(user)
        .select_related("decision__reviewer", "execution")
        .filter(pk=recommendation_id)
        .first()
    )
    if rec is None:
        raise NotFound("No recommendation with this id.")
    if not access.member_may_review(user, rec.member_role):  # type: ignore[attr-defined]
        raise Forbidden(f"You are not a member of queue '{rec.queue.slug}'.")
    if not _has(rec, "decision"):
        vote = Vote.objects.filter(recommendation=rec, reviewer=user).first()
        if vote is not None:
            return _vote_undo(user, rec, vote, now)
    decision = _undoable(user, rec, now)
    execution = getattr(rec, "execution", None) if _has(rec, "execution") else None
    with transaction.atomic():
        if execution is not None and not _cancelled(execution):
            raise Conflict(
                "The action has already started; it can no longer be undone.", reason=CLOSED
            )
        if not _callbacks_withdrawn(rec):
            raise Conflict(
                "The source has already been told; it can no longer be undone.", reason=CLOSED
            )
        snapshot = decision_repr(decision)
        UndoneDecision.objects.create(
            recommendation=rec,
            queue=rec.queue,
            reviewer=decision.reviewer,
            decided_at=decision.decided_at,
            undone_at=now,
            decision=snapshot,
            execution=execution_repr(execution),
        )
        Decision.objects.filter(pk=decision.pk).delete()
        # The vote that completed a consensus goes with its decision: the caller votes again.
        Vote.objects.filter(recommendation=rec, reviewer=user).delete()
        if not move_audited(
            rec,
            sources=[Status.DECIDED],
            to=Status.IN_REVIEW,
            values={
                "claimed_by": user,
                "claimed_at": now,
                "lease_expires_at": now + timedelta(minutes=rec.queue.lease_minutes),
                "closed_at": None,
                "updated_at": now,
            },
            action="recommendation.undone",
            actor=Actor.of_user(user),
            data={"decision": snapshot, "execution_cancelled": execution is not None},
        ):
            raise Conflict("The item changed meanwhile; nothing was undone.", reason=CLOSED)
    Recommendation.decision.related.set_cached_value(rec, None)
    Recommendation.execution.related.set_cached_value(rec, None)
    return rec


def _vote_undo(user: User, rec: Recommendation, vote: Vote, now: datetime) -> Recommendation:
    """Take back a vote on an item still short of votes. Audited: `recommendation.vote_undone`
    (with the vote as it was), as the move back into the caller's hands when it waited."""
    window = timedelta(seconds=rec.queue.undo_seconds)
    if not window:
        raise Conflict("Undo is off for this queue.", reason=CLOSED)
    if vote.created_at + window <= now:
        raise Conflict(f"The undo window ({rec.queue.undo_seconds} s) has passed.", reason=CLOSED)
    waiting = Status.SHADOW if rec.route == Route.SHADOW else Status.PENDING
    with transaction.atomic():
        # The row lock orders this against a decision counting the votes (review._hold_locked).
        locked = (
            Recommendation.objects.select_for_update(of=("self",))
            .filter(pk=rec.pk)
            .values_list("status", "escalated_at")
            .first()
        )
        assert locked is not None
        status, escalated_at = locked
        if status not in (Status.PENDING, Status.SHADOW, Status.IN_REVIEW) or escalated_at:
            raise Conflict(
                "The votes are complete (the item went to senior reviewers or was decided); "
                "your vote can no longer be undone.",
                reason=CLOSED,
            )
        Vote.objects.filter(pk=vote.pk).delete()
        data = {"vote": vote_data(vote)}
        if status != waiting or not move_audited(
            rec,
            sources=[waiting],
            to=Status.IN_REVIEW,
            values={
                "claimed_by": user,
                "claimed_at": now,
                "lease_expires_at": now + timedelta(minutes=rec.queue.lease_minutes),
                "updated_at": now,
            },
            action="recommendation.vote_undone",
            actor=Actor.of_user(user),
            data=data,
        ):
            # Another reviewer holds it now: the slot is open, the item stays with them.
            audit_record(
                action="recommendation.vote_undone",
                actor=Actor.of_user(user),
                recommendation=rec,
                data=data,
            )
    return rec


def _has(rec: Recommendation, name: str) -> bool:
    try:
        return getattr(rec, name) is not None
    except (Decision.DoesNotExist, Execution.DoesNotExist):
        return False


def _undoable(user: User, rec: Recommendation, now: datetime) -> Decision:
    if not _has(rec, "decision"):
        raise Conflict("This item has no decision to undo.", reason="not_decided")
    decision: Decision = rec.decision
    if decision.kind != DecisionKind.HUMAN:
        raise Conflict(
            "Only a person's decision can be undone; this one was made by the "
            + (
                "queue's policy (auto-approved)."
                if decision.kind == DecisionKind.POLICY
                else "source."
            ),
            reason="not_undoable",
        )
    if decision.reviewer_id != user.pk:
        raise Forbidden("Only the person who decided may undo it.")
    window = timedelta(seconds=rec.queue.undo_seconds)
    if not window:
        raise Conflict("Undo is off for this queue.", reason=CLOSED)
    if decision.decided_at + window <= now:
        raise Conflict(f"The undo window ({rec.queue.undo_seconds} s) has passed.", reason=CLOSED)
    return decision


def _cancelled(execution: Execution) -> bool:
    """Remove the execution if it has not started (no attempt yet); whether it was."""
    deleted, _ = Execution.objects.filter(
        pk=execution.pk, status=ExecutionStatus.PENDING, attempts=0
    ).delete()
    return bool(deleted)


def _callbacks_withdrawn(rec: Recommendation) -> bool:
    """Remove the decision's `decision.made` callback if it has not gone out; whether the
    source has not heard of the decision."""
    made = CallbackDelivery.objects.filter(recommendation=rec, event_type="decision.made")
    made.filter(status="pending", attempts=0).delete()
    return not made.exists()
