"""Review: claim, release, decide and escalate. The only code that moves an item through
review; the API, the pages and the lease sweep all call these functions.

Races are settled by the database: a claim is one SELECT ... FOR UPDATE SKIP LOCKED, so two
reviewers never get the same row; every later step is a filtered UPDATE on the lease
(status, holder, lease not expired) that must touch exactly one row, else LeaseLost (409).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from reviewqueue import access
from reviewqueue.domain.decision_input import CheckedDecision, Mode, Target, decision_check
from reviewqueue.domain.rows import decision_row, execution_row
from reviewqueue.exceptions import Conflict, Forbidden, LeaseLost, NotFound, ValidationFailed
from reviewqueue.lib.bulk import insert_together
from reviewqueue.lib.canonical import content_hash
from reviewqueue.lib.ids import RecommendationId
from reviewqueue.lib.lookup import by_unique_key
from reviewqueue.models import (
    ActionType,
    AuditEvent,
    Decision,
    Execution,
    Queue,
    Recommendation,
    User,
)
from reviewqueue.observability import metrics
from reviewqueue.selectors.recommendations import held_item
from reviewqueue.services.audit import Actor
from reviewqueue.services.callbacks import callback_publish_on_commit, callback_row
from reviewqueue.services.consensus import (
    ALREADY_VOTED,
    Tally,
    consensus_applies,
    has_voted,
    vote_cast,
)
from reviewqueue.services.execution import execution_publish_on_commit
from reviewqueue.services.leases import back_to, give_back, leases_return_expired
from reviewqueue.services.notifications import notify_escalated
from reviewqueue.services.transitions import (
    AUDIT_FIELDS,
    claim_next,
    expired_values,
    lock_batch,
    move_audited,
    unheld,
)
from reviewqueue.states import OPEN_STATUSES, DecisionKind, MemberRole, Outcome, Route, Status


@dataclass(frozen=True)
class Access:
    queue: Queue
    senior: bool


def queue_access(*, user: User, queue: Queue) -> Access:
    """A reviewer acts on a queue only as its member; seniors also see escalated items."""
    role = access.review_role(user, queue)
    if role is None:
        raise Forbidden(f"You are not a member of queue '{queue.slug}'.")
    return Access(queue=queue, senior=role == MemberRole.SENIOR)


def items_for_review(user: User) -> QuerySet[Recommendation]:
    """Items with their queue, action type and source, and `user`'s role in each item's
    queue (`member_role`), in one query: what every review step reads first."""
    return Recommendation.objects.select_related("queue", "action_type", "source").annotate(
        member_role=access.member_role_of(user)
    )


def _load(recommendation_id: RecommendationId, user: User) -> Recommendation:
    """The item with its queue, action type and source, and the caller's role in its queue,
    in one query. 404 when there is no such item, 403 when the caller is not a member."""
    rec = by_unique_key(items_for_review(user).filter(pk=recommendation_id))
    if rec is None:
        raise NotFound("No recommendation with this id.")
    if not access.member_may_review(user, rec.member_role):  # type: ignore[attr-defined]
        raise Forbidden(f"You are not a member of queue '{rec.queue.slug}'.")
    return rec


def recommendation_claim(
    *, user: User, queue: Queue | str, now: datetime | None = None
) -> Recommendation | None:
    """The next item of `queue` (a Queue or its slug) for `user` under a lease, or None when
    nothing waits.

    The item the user already holds comes back first, so a reload never loses it. Highest
    priority first, then oldest; seniors also take escalated items; a blind-review queue's
    shadow items come after its pending ones; items past expires_at
    are skipped (the sweep closes them). Expired leases go back to the queue through the
    lease sweep. The pick, the update and the audit row are one statement (membership
    check, FOR UPDATE SKIP LOCKED, UPDATE, INSERT), so a claim costs three statements with
    authentication. Audited: `recommendation.claimed`.
    """
    slug = queue.slug if isinstance(queue, Queue) else queue
    now = now or timezone.now()
    held = held_item(user=user, queue=slug, now=now)
    if held is not None:
        _no_outcome_yet(held)
        return held
    # The statement reads memberships only: roles that review nothing are refused first.
    rec = claim_next(user=user, slug=slug, now=now) if access.may_review_anything(user) else None
    if rec is None:
        queue_access(user=user, queue=queue_for(slug=slug))  # raises 404 or 403
        return None
    if rec.pk is None:  # a member, and nothing waits
        return None
    # Without a Queue object in hand, attach one with only id and slug loaded; any other
    # field loads on first access (Django's deferred fields), never silently empty.
    rec.queue = (
        queue
        if isinstance(queue, Queue)
        else Queue.from_db("default", ["id", "slug"], [rec.queue_id, slug])
    )
    rec.action_type = _action_type(rec.action_type_id)
    _no_outcome_yet(rec)
    return rec


def recommendation_claim_chosen(
    *,
    user: User,
    recommendation_id: RecommendationId,
    now: datetime | None = None,
    give_back_others: bool = True,
) -> Recommendation:
    """Claim this item (picked from the items list) under a lease.

    Preconditions: member of its queue who may review (else 403); escalated items only for
    seniors (403); the item waits: pending, escalated, or a blind queue's shadow item (else
    409 with `reason`: `held_by_other`, `already_decided`, `expired` or `not_waiting`); an
    item past its expires_at is closed as expired (409 `expired`). Claiming the item the
    caller already holds gives it back with its lease. Any other item the caller holds in
    that queue goes back where it came from, so the review page shows the chosen one
    (`give_back_others=False`: kept, for a bulk decision's items).
    Audited: `recommendation.claimed` (with `chosen: true`), and `recommendation.released`
    for an item given back.
    """
    return claim_loaded(
        user, _load(recommendation_id, user), now or timezone.now(), give_back_others
    )


def claim_loaded(
    user: User, rec: Recommendation, now: datetime, give_back_others: bool = True
) -> Recommendation:
    """`recommendation_claim_chosen` for an item loaded as `_load` loads it (with the
    caller's `member_role`), e.g. by a bulk decision that loaded all its items at once."""
    role = rec.member_role  # type: ignore[attr-defined]
    if rec.status == Status.IN_REVIEW:
        live = rec.lease_expires_at is not None and rec.lease_expires_at > now
        if live and rec.claimed_by_id == user.pk:
            return rec
        if not live:  # whoever held it let the lease run out: back where it came from
            leases_return_expired(queue=rec.queue, now=now)
            rec.refresh_from_db(fields=["status", "claimed_by", "lease_expires_at"])
    if rec.status == Status.ESCALATED and not access.takes_escalated(role):
        raise Forbidden("Only senior reviewers take escalated items.")
    if rec.expires_at is not None and rec.expires_at <= now and rec.status in OPEN_STATUSES:
        recommendation_expire(recommendation_id=rec.pk, now=now)
        raise LeaseLost("This item expired before it was claimed.", reason="expired")
    if rec.reviewers_needed > 1 and has_voted(rec, user):
        # Consensus: one vote per person; a voter never takes the item again.
        raise LeaseLost(
            "You have already voted on this item; other reviewers decide it now.",
            reason=ALREADY_VOTED,
        )
    sources = [Status.PENDING, Status.ESCALATED]
    if rec.queue.blind_review:
        sources.append(Status.SHADOW)
    lease = now + timedelta(minutes=rec.queue.lease_minutes)
    with transaction.atomic():
        if give_back_others:
            _give_back_others(user, rec, now)
        if not move_audited(
            rec,
            sources=sources,
            to=Status.IN_REVIEW,
            values={
                "claimed_by": user,
                "claimed_at": now,
                "lease_expires_at": lease,
                "updated_at": now,
            },
            action="recommendation.claimed",
            actor=Actor.of_user(user),
            data={
                "lease_expires_at": lease.isoformat(),
                "escalated": rec.escalated_at is not None,
                "chosen": True,
            },
        ):
            raise _why_not_claimable(user, rec)
    _no_outcome_yet(rec)
    return rec


def _give_back_others(user: User, rec: Recommendation, now: datetime) -> None:
    """The caller works one item of a queue at a time: what else they hold there goes back."""
    held = lock_batch(
        Recommendation.objects.filter(
            queue_id=rec.queue_id, status=Status.IN_REVIEW, claimed_by=user
        ).exclude(pk=rec.pk),
        "escalated_at",
        "route",
        limit=100,
    )
    give_back(
        held,
        now,
        action="recommendation.released",
        actor=Actor.of_user(user),
        data=lambda row: {"reason": "claimed another item", "claimed": str(rec.pk)},
    )


def _why_not_claimable(user: User, rec: Recommendation) -> LeaseLost:
    rec.refresh_from_db(fields=["status", "claimed_by", "lease_expires_at"])
    if rec.status == Status.IN_REVIEW:
        return LeaseLost("Another reviewer holds this item now.", reason="held_by_other")
    if rec.status in (Status.DECIDED, Status.AUTO_APPROVED):
        return LeaseLost("This item has already been decided.", reason="already_decided")
    if rec.status == Status.EXPIRED:
        return LeaseLost("This item expired before it was claimed.", reason="expired")
    return LeaseLost(
        f"This item is not waiting for a reviewer (it is {rec.status}).", reason="not_waiting"
    )


def _no_outcome_yet(rec: Recommendation) -> None:
    # An item under review has neither a decision nor an execution: say so, and spare the
    # representation two queries.
    Recommendation.decision.related.set_cached_value(rec, None)
    Recommendation.execution.related.set_cached_value(rec, None)


_action_types: dict[int, ActionType] = {}


def _action_type(pk: int) -> ActionType:
    # Names never change (apply_config upserts by name), so the claim's representation can
    # take them from a per-process cache instead of another query.
    found = _action_types.get(pk)
    if found is None:
        found = _action_types[pk] = ActionType.objects.get(pk=pk)
    return found


def _lease(user: User, now: datetime) -> dict[str, Any]:
    """The condition of every move by a reviewer: they hold the item under a live lease
    (the status, `in_review`, is each move's source)."""
    return {"claimed_by": user, "lease_expires_at__gt": now}


def _why_not_yours(user: User, rec: Recommendation, now: datetime) -> LeaseLost:
    rec.refresh_from_db(fields=["status", "claimed_by", "lease_expires_at"])
    if rec.status == Status.DECIDED:
        return LeaseLost("This item has already been decided.", reason="already_decided")
    if rec.status == Status.EXPIRED:
        return LeaseLost("This item expired before it was decided.", reason="expired")
    if rec.status != Status.IN_REVIEW:
        return _why_back_in_queue(user, rec)
    if rec.claimed_by_id != user.pk:
        return LeaseLost("Another reviewer holds this item now.", reason="held_by_other")
    return LeaseLost("Your lease on this item expired; claim it again.", reason="lease_expired")


def _why_back_in_queue(user: User, rec: Recommendation) -> LeaseLost:
    """The item is waiting again. If this user held it, say how they lost it (the sweep
    after their lease ran out, or their own release, e.g. in another tab) and by whom."""
    last = (
        AuditEvent.objects.filter(
            recommendation=rec,
            action__in=("recommendation.claimed", "lease.expired", "recommendation.released"),
        )
        .order_by("-id")
        .values("action", "actor_label", "occurred_at", "data")
        .first()
    )
    me = user.get_username()
    if last is not None and last["action"] == "lease.expired" and last["data"].get("holder") == me:
        at = last["occurred_at"].strftime("%H:%M UTC")
        return LeaseLost(
            f"Your lease on this item expired; the lease sweep returned it to the queue at "
            f"{at}. Nothing was saved for it: claim it again.",
            reason="lease_expired",
            released_by=last["actor_label"],
        )
    if (
        last is not None
        and last["action"] == "recommendation.released"
        and last["actor_label"] == me
    ):
        return LeaseLost(
            "You released this item (perhaps in another tab); it is back in the queue.",
            reason="released",
            released_by=last["actor_label"],
        )
    return LeaseLost("You have not claimed this item; claim it first.", reason="not_claimed")


def recommendation_release(*, user: User, recommendation_id: RecommendationId) -> Recommendation:
    """Give a held item back to the queue (escalated items back to the seniors).
    409 unless the caller holds a live lease. Audited: `recommendation.released`."""
    rec = _load(recommendation_id, user)
    now = timezone.now()
    with transaction.atomic():
        if not move_audited(
            rec,
            sources=[Status.IN_REVIEW],
            to=back_to(rec),
            values=unheld(now),
            where=_lease(user, now),
            action="recommendation.released",
            actor=Actor.of_user(user),
        ):
            raise _why_not_yours(user, rec, now)
    return rec


def recommendation_escalate(
    *, user: User, recommendation_id: RecommendationId, comment: str = ""
) -> Recommendation:
    """Send a held item to the queue's senior reviewers, who are notified
    (services/notifications). Audited: `recommendation.escalated`."""
    rec = _load(recommendation_id, user)
    if len(comment) > 5000:
        raise ValidationFailed(
            "Comment too long.", errors={"comment": "Must be at most 5000 characters."}
        )
    now = timezone.now()
    if (
        rec.status == Status.IN_REVIEW
        and rec.escalated_at is not None
        and rec.claimed_by_id == user.pk
    ):
        raise Conflict("This item is already escalated; decide it or release it.")
    with transaction.atomic():
        if not move_audited(
            rec,
            sources=[Status.IN_REVIEW],
            to=Status.ESCALATED,
            values=unheld(now, escalated_at=now),
            where=_lease(user, now),
            action="recommendation.escalated",
            actor=Actor.of_user(user),
            data={"comment": comment},
        ):
            raise _why_not_yours(user, rec, now)
        notify_escalated([rec], at=now, reason=f"by {user.get_username()}")
    return rec


def _checked(rec: Recommendation, **given: Any) -> CheckedDecision:
    """`given` (outcome, payload, reason_code, comment) checked by the one decision-input
    check, blind when the item is a shadow item (blind review)."""
    mode = Mode.BLIND if rec.route == Route.SHADOW else Mode.REVIEW
    return decision_check(Target.of(rec), mode=mode, **given)


def recommendation_expire(
    *, recommendation_id: RecommendationId, now: datetime | None = None
) -> bool:
    """Close an open item that is past its expires_at as `expired` (never an approval).
    Returns whether it changed. Audited: `recommendation.expired`."""
    now = now or timezone.now()
    with transaction.atomic():
        rec = (
            Recommendation.objects.select_for_update()
            .filter(pk=recommendation_id, status__in=OPEN_STATUSES, expires_at__lte=now)
            .only(*AUDIT_FIELDS, "expires_at")
            .first()
        )
        return rec is not None and move_audited(
            rec,
            sources=OPEN_STATUSES,
            to=Status.EXPIRED,
            values=expired_values(now),
            action="recommendation.expired",
            actor=Actor.system("expiry"),
            data={
                "expires_at": rec.expires_at.isoformat() if rec.expires_at else None,
                "from_status": rec.status,
            },
        )


def recommendation_decide(
    *,
    user: User,
    recommendation_id: RecommendationId,
    outcome: str,
    payload: Any = None,
    reason_code: str = "",
    comment: str = "",
    bulk: bool = False,
) -> Recommendation:
    """Approve, modify or reject an item the caller holds under a live lease (`bulk`: as
    one item of a bulk decision, services/bulk.py; marked on the decision and its audit).

    Preconditions: member of the queue (else 403); a live lease (else 409); the item not past
    its expires_at (else it is closed as expired and 409); reject and modify need a reason
    code from the queue's list; modify needs a payload that passes the action type's schema
    and differs from the original. Writes the decision with the final payload's hash and a
    field-level diff, and for approve/modify the execution row (the outbox), all in one
    transaction. Audited: `recommendation.decided`.

    Consensus (the item needs more than one reviewer, services/consensus.py): the decision
    is the caller's vote. Short of votes, the item goes back to waiting; the last vote
    either agrees with the others (the Decision is written as above, its audit row says
    `consensus`) or escalates the item to seniors. Audited: `recommendation.voted`.

    A shadow item (blind review) never executes: the reviewer sends the payload they would
    use (approve/modify, the app decides which by comparing it with the hidden proposal) or
    rejects; the decision is stored as a human one, nothing is called back. Audited:
    `recommendation.blind_reviewed` with the agreement.
    """
    return decide_loaded(
        user,
        _load(recommendation_id, user),
        outcome=outcome,
        payload=payload,
        reason_code=reason_code,
        comment=comment,
        bulk=bulk,
    )


def decide_loaded(
    user: User,
    rec: Recommendation,
    *,
    outcome: str,
    payload: Any = None,
    reason_code: str = "",
    comment: str = "",
    bulk: bool = False,
) -> Recommendation:
    """`recommendation_decide` for an item loaded as `_load` loads it."""
    checked = _checked(
        rec, outcome=outcome, payload=payload, reason_code=reason_code, comment=comment
    )
    now = timezone.now()
    if rec.expires_at is not None and rec.expires_at <= now and rec.status in OPEN_STATUSES:
        recommendation_expire(recommendation_id=rec.pk, now=now)
        raise LeaseLost(
            "This item expired before it was decided; it is closed as expired.", reason="expired"
        )
    with transaction.atomic():
        tally = None
        if consensus_applies(rec):
            _hold_locked(user, rec, now)
            tally = vote_cast(
                rec,
                checked,
                user=user,
                reason_code=reason_code or "",
                comment=comment or "",
                now=now,
                bulk=bulk,
            )
        if tally is None or tally.agreed:
            decision, execution = _decided(
                rec,
                checked,
                user=user,
                reason_code=reason_code or "",
                comment=comment or "",
                now=now,
                bulk=bulk,
                consensus=tally,
            )
    if tally is not None and not tally.agreed:  # a vote: waiting for others, or escalated
        _no_outcome_yet(rec)
        return rec
    metrics.decided(rec, decision)
    Recommendation.decision.related.set_cached_value(rec, decision)
    Recommendation.execution.related.set_cached_value(rec, execution)
    decision.reviewer = user
    return rec


def _hold_locked(user: User, rec: Recommendation, now: datetime) -> None:
    """Lock the item if the caller holds it under a live lease (else 409 saying why): a vote
    counts the others' votes, and nobody may add or take one back meanwhile."""
    held = (
        Recommendation.objects.select_for_update(of=("self",))
        .filter(pk=rec.pk, status=Status.IN_REVIEW, **_lease(user, now))
        .values_list("pk", flat=True)
    )
    if not held:
        raise _why_not_yours(user, rec, now)


def _decided(
    rec: Recommendation,
    checked: CheckedDecision,
    *,
    user: User,
    reason_code: str,
    comment: str,
    now: datetime,
    bulk: bool = False,
    consensus: Tally | None = None,
) -> tuple[Decision, Execution | None]:
    """The decision's writes, inside its transaction: the move to `decided` (under the
    caller's live lease, else 409) with its audit row, the Decision, and for a non-blind
    approve/modify the Execution (published on commit) and the `decision.made` callback."""
    blind = rec.route == Route.SHADOW
    final = checked.payload
    payload_hash = content_hash(final) if final is not None else ""
    audit_data: dict[str, Any] = {"outcome": checked.outcome}
    if blind:
        audit_data["agreed"] = checked.agreed
    audit_data |= {
        "reason_code": reason_code,
        "comment": comment,
        "payload_hash": payload_hash,
        "diff": checked.diff,
        "is_cosmetic": checked.is_cosmetic,
    }
    if bulk:
        audit_data["bulk"] = True
    if consensus is not None:
        audit_data["consensus"] = consensus.summary()
    if not move_audited(
        rec,
        sources=[Status.IN_REVIEW],
        to=Status.DECIDED,
        values={"lease_expires_at": None, "closed_at": now, "updated_at": now},
        where=_lease(user, now),
        # Shadow: nothing executes and the source is not called back; the comparison is the
        # result (metrics count it as a compared item).
        action="recommendation.blind_reviewed" if blind else "recommendation.decided",
        actor=Actor.of_user(user),
        data=audit_data,
    ):
        raise _why_not_yours(user, rec, now)
    decision = decision_row(
        rec,
        kind=DecisionKind.HUMAN,
        outcome=checked.outcome,
        payload=final,
        payload_hash=payload_hash,
        now=now,
        reviewer=user,
        diff=checked.diff,
        is_cosmetic=checked.is_cosmetic,
        reason_code=reason_code,
        comment=comment,
        bulk=bulk,
    )
    if blind:
        decision.save(force_insert=True)
        return decision, None
    execution = None
    # The undo window (services/undo.py): nothing leaves the app before it has passed.
    wait = rec.queue.undo_seconds
    if checked.outcome in (Outcome.APPROVE, Outcome.MODIFY):
        execution = execution_row(
            rec, payload=final, payload_hash=payload_hash, now=now, by_policy=False
        )
        execution.next_attempt_at = now + timedelta(seconds=wait)
    callback = callback_row(
        recommendation=rec,
        source=rec.source,
        event_type="decision.made",
        decision=decision,
        execution=execution,
        delay_seconds=wait,
    )
    # The decision, its callback event and its execution (the outbox) in one statement; the
    # execution last, so its id comes back for the task.
    rows = [row for row in (decision, callback, execution) if row is not None]
    pk = insert_together(rows, returning_pk=execution is not None)
    if execution is not None:  # published first, as before: the action, then the callback
        execution.pk = pk
        execution._state.adding = False
        execution_publish_on_commit(execution.pk, wait)
    if callback is not None:
        callback_publish_on_commit(callback, wait)
    decision._state.adding = False
    return decision, execution


def queue_for(*, slug: str) -> Queue:
    queue = by_unique_key(Queue.objects.filter(slug=slug))
    if queue is None:
        raise NotFound(f"No queue '{slug}'.")
    return queue


__all__ = [
    "queue_access",
    "queue_for",
    "recommendation_claim",
    "recommendation_decide",
    "recommendation_escalate",
    "recommendation_expire",
    "recommendation_release",
]
