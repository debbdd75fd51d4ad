"""Review: claim, release, decide and escalate. The only code that moves an item through
review; the API, the pages and the lease sweep all call these functions.

Races are settled by the database: a claim is one SELECT ... FOR UPDATE SKIP LOCKED, so two
reviewers never get the same row; every later step is a filtered UPDATE on the lease
(status, holder, lease not expired) that must touch exactly one row, else LeaseLost (409).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Case, OuterRef, Subquery, Value, When
from django.utils import timezone

from reviewqueue import access
from reviewqueue.domain.rows import decision_row, execution_row
from reviewqueue.exceptions import Conflict, Forbidden, LeaseLost, NotFound, ValidationFailed
from reviewqueue.lib.canonical import content_hash
from reviewqueue.lib.diff import is_cosmetic, json_diff
from reviewqueue.lib.schema import errors_by_path, validator_for
from reviewqueue.models import (
    ActionType,
    AuditEvent,
    Decision,
    Execution,
    Membership,
    Queue,
    Recommendation,
    User,
)
from reviewqueue.observability import metrics
from reviewqueue.selectors.recommendations import held_item
from reviewqueue.services.audit import Actor, audit_chain_order, audit_event, audit_record
from reviewqueue.services.callbacks import callback_event
from reviewqueue.services.execution import execution_publish_on_commit
from reviewqueue.services.shadow import blind_compare
from reviewqueue.states import DecisionKind, MemberRole, Outcome, Route, Status


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


def _load(recommendation_id: Any, user: User) -> Recommendation:
    """The item with its queue, action type and source, and the caller's role in its queue,
    in one query. 404 when there is no such item, 403 when the caller is not a member."""
    rec = (
        Recommendation.objects.select_related("queue", "action_type", "source")
        .annotate(
            member_role=Subquery(
                Membership.objects.filter(queue=OuterRef("queue"), user=user).values("role")[:1]
            )
        )
        .filter(pk=recommendation_id)
        .first()
    )
    if rec is None:
        raise NotFound("No recommendation with this id.")
    if not access.member_may_review(user, rec.member_role):  # type: ignore[attr-defined]
        raise Forbidden(f"You are not a member of queue '{rec.queue.slug}'.")
    return rec


def leases_return_expired(*, queue: Queue | None = None, now: datetime | None = None) -> int:
    """Return items whose lease ran out to the queue (escalated ones to the seniors).

    Runs before every claim and from the periodic sweep. Audited: `lease.expired` per item.
    """
    now = now or timezone.now()
    with transaction.atomic():
        qs = Recommendation.objects.filter(status=Status.IN_REVIEW, lease_expires_at__lte=now)
        if queue is not None:
            qs = qs.filter(queue=queue)
        expired = list(
            qs.select_for_update(skip_locked=True, of=("self",)).values_list(
                "pk",
                "claimed_by__username",
                "escalated_at",
                "queue_id",
                "model_name",
                "model_version",
                "prompt_version",
            )
        )
        if not expired:
            return 0
        Recommendation.objects.filter(pk__in=[row[0] for row in expired]).update(
            status=Case(
                When(escalated_at__isnull=False, then=Value(Status.ESCALATED.value)),
                When(route=Route.SHADOW, then=Value(Status.SHADOW.value)),  # blind review
                default=Value(Status.PENDING.value),
            ),
            claimed_by=None,
            lease_expires_at=None,
            updated_at=now,
        )
        AuditEvent.objects.bulk_create(
            audit_chain_order(
                AuditEvent(
                    action="lease.expired",
                    actor_kind="system",
                    actor_label="lease-sweep",
                    recommendation_id=pk,
                    queue_id=queue_id,
                    model_name=mn,
                    model_version=mv,
                    prompt_version=pv,
                    data={"holder": holder},
                )
                for pk, holder, _esc, queue_id, mn, mv, pv in expired
            )
        )
    return len(expired)


_CLAIM_SQL_POSTGRES = """
WITH m AS (
    SELECT q.id AS queue_id, q.lease_minutes, mem.role, q.blind_review
    FROM reviewqueue_queue q
    JOIN reviewqueue_membership mem ON mem.queue_id = q.id AND mem.user_id = %(user)s
    WHERE q.slug = %(slug)s
), escalated AS (
    SELECT r.id FROM reviewqueue_recommendation r
    WHERE (SELECT role FROM m) = 'senior' AND r.queue_id = (SELECT queue_id FROM m)
      AND r.status = 'escalated'
      AND (r.expires_at IS NULL OR r.expires_at > %(now)s)
    ORDER BY r.priority DESC, r.created_at, r.id
    LIMIT 1
    FOR UPDATE OF r SKIP LOCKED
), pending AS (
    SELECT r.id FROM reviewqueue_recommendation r
    WHERE r.queue_id = (SELECT queue_id FROM m) AND r.status = 'pending'
      AND (r.expires_at IS NULL OR r.expires_at > %(now)s)
    ORDER BY r.priority DESC, r.created_at, r.id
    LIMIT 1
    FOR UPDATE OF r SKIP LOCKED
), shadow AS (
    -- Blind review: a blind queue's shadow items are claimed like pending ones, after them.
    SELECT r.id FROM reviewqueue_recommendation r
    WHERE (SELECT blind_review FROM m) AND r.queue_id = (SELECT queue_id FROM m)
      AND r.status = 'shadow'
      AND (r.expires_at IS NULL OR r.expires_at > %(now)s)
    ORDER BY r.priority DESC, r.created_at, r.id
    LIMIT 1
    FOR UPDATE OF r SKIP LOCKED
), cand AS (
    -- Seniors take escalated items first. The unused rows stay locked only for the
    -- duration of this statement.
    SELECT COALESCE(
        (SELECT id FROM escalated), (SELECT id FROM pending), (SELECT id FROM shadow)
    ) AS id
), upd AS (
    UPDATE reviewqueue_recommendation rec
    SET status = 'in_review', claimed_by_id = %(user)s, claimed_at = %(now)s,
        lease_expires_at = %(now)s + make_interval(mins => m.lease_minutes), updated_at = %(now)s
    FROM cand, m
    WHERE rec.id = cand.id
    RETURNING rec.*
), audit AS (
    INSERT INTO reviewqueue_auditevent
        (occurred_at, actor_kind, actor_user_id, actor_source_id, actor_label, action,
         recommendation_id, queue_id, model_name, model_version, prompt_version, data)
    SELECT %(now)s, 'user', %(user)s, NULL, %(username)s, 'recommendation.claimed', upd.id,
           upd.queue_id, upd.model_name, upd.model_version, upd.prompt_version,
           jsonb_build_object('lease_expires_at', upd.lease_expires_at,
                              'escalated', upd.escalated_at IS NOT NULL)
    FROM upd
)
SELECT upd.*, m.role AS member_role
FROM m LEFT JOIN upd ON true
"""


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
    may_review = access.may_review_anything(user)  # the statement reads memberships only
    rows: list[Recommendation] = []
    if may_review:
        rows = list(
            Recommendation.objects.raw(
                _CLAIM_SQL_POSTGRES,
                {"user": user.pk, "slug": slug, "now": now, "username": user.get_username()},
            )
        )
    if not rows:
        queue_access(user=user, queue=queue_for(slug=slug))  # raises 404 or 403
        return None
    rec = rows[0]
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


def _no_outcome_yet(rec: Recommendation) -> None:
    # An item under review has neither a decision nor an execution: say so, and spare the
    # representation two queries.
    Recommendation.decision.related.set_cached_value(rec, None)  # type: ignore[attr-defined]
    Recommendation.execution.related.set_cached_value(rec, None)  # type: ignore[attr-defined]


_action_types: dict[int, ActionType] = {}


def _action_type(pk: int) -> ActionType:
    # Names never change (apply_config upserts by name), so the claim's representation can
    # take them from a per-process cache instead of another query.
    found = _action_types.get(pk)
    if found is None:
        found = _action_types[pk] = ActionType.objects.get(pk=pk)
    return found


def _lease_guard(user: User, rec: Recommendation, now: datetime) -> Any:
    return Recommendation.objects.filter(
        pk=rec.pk, status=Status.IN_REVIEW, claimed_by=user, lease_expires_at__gt=now
    )


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


def recommendation_release(*, user: User, recommendation_id: Any) -> Recommendation:
    """Give a held item back to the queue (escalated items back to the seniors).
    409 unless the caller holds a live lease. Audited: `recommendation.released`."""
    rec = _load(recommendation_id, user)
    now = timezone.now()
    back_to = Status.ESCALATED if rec.escalated_at else Status.PENDING
    if back_to == Status.PENDING and rec.route == Route.SHADOW:
        back_to = Status.SHADOW  # a blind review goes back to the shadow items
    with transaction.atomic():
        changed = _lease_guard(user, rec, now).update(
            status=back_to, claimed_by=None, lease_expires_at=None, updated_at=now
        )
        if changed != 1:
            raise _why_not_yours(user, rec, now)
        rec.status, rec.claimed_by, rec.lease_expires_at, rec.updated_at = back_to, None, None, now
        audit_record(
            action="recommendation.released", actor=Actor.of_user(user), recommendation=rec
        )
    return rec


def recommendation_escalate(
    *, user: User, recommendation_id: Any, comment: str = ""
) -> Recommendation:
    """Send a held item to the queue's senior reviewers. Audited: `recommendation.escalated`."""
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
        changed = _lease_guard(user, rec, now).update(
            status=Status.ESCALATED,
            escalated_at=now,
            claimed_by=None,
            lease_expires_at=None,
            updated_at=now,
        )
        if changed != 1:
            raise _why_not_yours(user, rec, now)
        rec.status, rec.escalated_at, rec.claimed_by, rec.lease_expires_at = (
            Status.ESCALATED,
            now,
            None,
            None,
        )
        rec.updated_at = now
        audit_record(
            action="recommendation.escalated",
            actor=Actor.of_user(user),
            recommendation=rec,
            data={"comment": comment},
        )
    return rec


def _check_decision(
    rec: Recommendation, outcome: str, payload: Any, reason_code: str, comment: str
) -> tuple[Any, list[dict[str, Any]], bool | None]:
    """Validate a decision's input; returns (final payload, diff, is_cosmetic)."""
    valid_outcomes = [o.value for o in Outcome]
    if outcome not in valid_outcomes:
        raise ValidationFailed(
            "Unknown outcome.", errors={"outcome": "Must be approve, modify or reject."}
        )
    errors: dict[str, str] = {}
    if not isinstance(comment, str) or len(comment) > 5000:
        errors["comment"] = "Must be text of at most 5000 characters."
    if outcome in (Outcome.REJECT, Outcome.MODIFY):
        if not reason_code:
            errors["reason_code"] = "A reason code is required to " + outcome + "."
        elif reason_code not in rec.queue.reason_codes:
            errors["reason_code"] = "Must be one of: " + ", ".join(rec.queue.reason_codes) + "."
    elif reason_code and reason_code not in rec.queue.reason_codes:
        errors["reason_code"] = "Must be one of: " + ", ".join(rec.queue.reason_codes) + "."
    if outcome == Outcome.MODIFY:
        if not isinstance(payload, dict):
            errors["payload"] = "Modify needs the edited payload (an object)."
        else:
            errors.update(
                errors_by_path(validator_for(rec.action_type.payload_schema), payload, "payload")
            )
            if "payload" not in errors and not json_diff(rec.payload, payload):
                errors["payload"] = (
                    "The edited payload is the same as the original; approve it instead."
                )
    elif outcome == Outcome.APPROVE and payload is not None and json_diff(rec.payload, payload):
        errors["payload"] = "Approve takes the payload as proposed; use modify to change it."
    if errors:
        raise ValidationFailed("The decision is not valid.", errors=errors)
    if outcome == Outcome.REJECT:
        return None, [], None
    if outcome == Outcome.APPROVE:
        return rec.payload, [], None
    changes = json_diff(rec.payload, payload)
    return payload, changes, is_cosmetic(changes, rec.action_type.cosmetic_fields)


def recommendation_expire(*, recommendation_id: Any, now: datetime | None = None) -> bool:
    """Close an open item that is past its expires_at as `expired` (never an approval).
    Returns whether it changed. Audited: `recommendation.expired`."""
    now = now or timezone.now()
    with transaction.atomic():
        rec = (
            Recommendation.objects.select_for_update()
            .filter(
                pk=recommendation_id,
                status__in=[Status.PENDING, Status.IN_REVIEW, Status.ESCALATED],
                expires_at__lte=now,
            )
            .first()
        )
        if rec is None:
            return False
        rec.status = Status.EXPIRED
        rec.closed_at = rec.updated_at = now
        rec.claimed_by = None
        rec.lease_expires_at = None
        rec.save(
            update_fields=["status", "closed_at", "updated_at", "claimed_by", "lease_expires_at"]
        )
        audit_record(
            action="recommendation.expired",
            actor=Actor.system("expiry"),
            recommendation=rec,
            data={"expires_at": rec.expires_at.isoformat() if rec.expires_at else None},
        )
    return True


def recommendation_decide(
    *,
    user: User,
    recommendation_id: Any,
    outcome: str,
    payload: Any = None,
    reason_code: str = "",
    comment: str = "",
) -> Recommendation:
    """Approve, modify or reject an item the caller holds under a live lease.

    Preconditions: member of the queue (else 403); a live lease (else 409); the item not past
    its expires_at (else it is closed as expired and 409); reject and modify need a reason
    code from the queue's list; modify needs a payload that passes the action type's schema
    and differs from the original. Writes the decision with the final payload's hash and a
    field-level diff, and for approve/modify the execution row (the outbox), all in one
    transaction. Audited: `recommendation.decided`.

    A shadow item (blind review) never executes: the reviewer sends the payload they would
    use (approve/modify, the app decides which by comparing it with the hidden proposal) or
    rejects; the decision is stored as a human one, nothing is called back. Audited:
    `recommendation.blind_reviewed` with the agreement.
    """
    rec = _load(recommendation_id, user)
    blind = None
    if rec.route == Route.SHADOW:
        # Blind review: the reviewer's answer is compared with the proposal they never saw.
        blind = blind_compare(
            rec, outcome=outcome, payload=payload, reason_code=reason_code or "", comment=comment
        )
        outcome, final, changes, cosmetic = (
            blind.outcome,
            blind.payload,
            blind.diff,
            blind.is_cosmetic,
        )
    else:
        final, changes, cosmetic = _check_decision(
            rec, outcome, payload, reason_code or "", comment or ""
        )
    now = timezone.now()
    if (
        rec.expires_at is not None
        and rec.expires_at <= now
        and rec.status
        in (
            Status.PENDING,
            Status.IN_REVIEW,
            Status.ESCALATED,
        )
    ):
        recommendation_expire(recommendation_id=rec.pk, now=now)
        raise LeaseLost(
            "This item expired before it was decided; it is closed as expired.", reason="expired"
        )
    with transaction.atomic():
        changed = _lease_guard(user, rec, now).update(
            status=Status.DECIDED, lease_expires_at=None, closed_at=now, updated_at=now
        )
        if changed != 1:
            raise _why_not_yours(user, rec, now)
        # The row is decided: the in-memory item says so before anything reports it.
        rec.status, rec.lease_expires_at, rec.closed_at, rec.updated_at = (
            Status.DECIDED,
            None,
            now,
            now,
        )
        payload_hash = content_hash(final) if final is not None else ""
        decision = decision_row(
            rec,
            kind=DecisionKind.HUMAN,
            outcome=outcome,
            payload=final,
            payload_hash=payload_hash,
            now=now,
            reviewer=user,
            diff=changes,
            is_cosmetic=cosmetic,
            reason_code=reason_code or "",
            comment=comment or "",
        )
        decision.save(force_insert=True)
        execution = None
        if blind is not None:
            # Shadow: nothing executes and the source is not called back; the comparison
            # is the result. Metrics count it as a compared item (a human decision on a
            # shadow-routed item).
            audit_record(
                action="recommendation.blind_reviewed",
                actor=Actor.of_user(user),
                recommendation=rec,
                data={
                    "outcome": outcome,
                    "agreed": blind.agreed,
                    "reason_code": reason_code or "",
                    "comment": comment or "",
                    "payload_hash": payload_hash,
                    "diff": changes,
                    "is_cosmetic": cosmetic,
                },
            )
        elif outcome in (Outcome.APPROVE, Outcome.MODIFY):
            execution = execution_row(rec, payload=final, payload_hash=payload_hash, now=now)
            execution.save(force_insert=True)
        if execution is not None:
            execution_publish_on_commit(execution.pk)
        if blind is None:
            _decided_callback_and_audit(user, rec, decision, execution, changes, cosmetic)
    metrics.decided(rec, decision)
    Recommendation.decision.related.set_cached_value(rec, decision)  # type: ignore[attr-defined]
    Recommendation.execution.related.set_cached_value(rec, execution)  # type: ignore[attr-defined]
    decision.reviewer = user
    return rec


def _decided_callback_and_audit(
    user: User,
    rec: Recommendation,
    decision: Decision,
    execution: Execution | None,
    changes: list[dict[str, Any]],
    cosmetic: bool | None,
) -> None:
    callback_event(
        recommendation=rec,
        source=rec.source,
        event_type="decision.made",
        decision=decision,
        execution=execution,
    )
    AuditEvent.objects.bulk_create(
        [
            audit_event(
                action="recommendation.decided",
                actor=Actor.of_user(user),
                recommendation=rec,
                data={
                    "outcome": decision.outcome,
                    "reason_code": decision.reason_code,
                    "comment": decision.comment,
                    "payload_hash": decision.payload_hash,
                    "diff": changes,
                    "is_cosmetic": cosmetic,
                },
            )
        ]
    )


def queue_for(*, slug: str) -> Queue:
    queue = Queue.objects.filter(slug=slug).first()
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
