"""The one way a recommendation's status changes.

Every move (claim, release, escalate, decide, expire, the human outcome of a shadow item, the
lease and SLA sweeps) goes through a function here. Each one checks the legal-moves table
(`states.RECOMMENDATION_MOVES`) before it writes, so a move that is not in the table cannot be
written: it raises `MoveNotInTable`, a programming error, before any SQL runs. The UPDATE is
filtered on the statuses the move starts from, so a row that moved meanwhile is left alone,
and the audit row is written in the same transaction by the audit writer (services/audit.py).

- `move_one`: one row by primary key, with extra conditions (e.g. the caller's live lease);
  returns whether that row moved. The caller says why not (409) when it did not.
- `lock_batch` + `move_locked`: the sweeps' form. Lock a bounded batch with SKIP LOCKED, move
  them with one UPDATE, audit them with one bulk INSERT.
- `claim_next`: the claim, one statement that picks, moves and audits (see its SQL).
- `require_execution_legal`: the same table check for executions (`states.EXECUTION_MOVES`),
  asked by services/execution.py for each of its conditional UPDATEs.

Callers must run these inside `transaction.atomic()`.
"""

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.db.models.sql import UpdateQuery

from reviewqueue import access
from reviewqueue.lib.ids import RecommendationId
from reviewqueue.models import Recommendation, User
from reviewqueue.services.audit import (
    AUDIT_INSERT,
    Actor,
    audit_event,
    audit_insert_values,
    audit_records,
)
from reviewqueue.states import EXECUTION_MOVES, RECOMMENDATION_MOVES, ExecutionStatus, Status


class MoveNotInTable(AssertionError):
    """A service tried a status move that `states.RECOMMENDATION_MOVES` does not allow."""


def require_execution_legal(
    sources: Iterable[ExecutionStatus], target: ExecutionStatus
) -> list[str]:
    """As `require_legal`, for an execution's moves (`states.EXECUTION_MOVES`)."""
    values = []
    for source in sources:
        if (ExecutionStatus(source), target) not in EXECUTION_MOVES:
            raise MoveNotInTable(f"{source} → {target} is not a legal execution move")
        values.append(ExecutionStatus(source).value)
    return values


def require_legal(sources: Iterable[Status], target: Status) -> list[str]:
    """The source statuses as values, after checking every (source, target) is in the table."""
    values = []
    for source in sources:
        if (Status(source), target) not in RECOMMENDATION_MOVES:
            raise MoveNotInTable(f"{source} → {target} is not a legal recommendation move")
        values.append(Status(source).value)
    if not values:
        raise MoveNotInTable(f"a move to {target} needs at least one source status")
    return values


def unheld(now: datetime, **values: Any) -> dict[str, Any]:
    """The values of a move that takes an item out of anyone's hands (release, escalate,
    expire, a lease running out): no holder, no lease, updated now; plus `values`."""
    return {"claimed_by": None, "lease_expires_at": None, "updated_at": now, **values}


def expired_values(now: datetime) -> dict[str, Any]:
    """The values of the move to `expired` (one item or the sweep's batch): closed now."""
    return unheld(now, closed_at=now)


def move_one(
    pk: RecommendationId,
    *,
    sources: Iterable[Status],
    to: Status,
    values: dict[str, Any],
    where: dict[str, Any] | None = None,
    audit: Callable[[], Any] | None = None,
) -> bool:
    """Move the recommendation `pk` from one of `sources` to `to`, setting `values` too, if
    it also matches `where`. Returns whether it moved; `audit()` (which writes the audit row
    through the audit writer) runs only when it did."""
    statuses = require_legal(sources, to)
    changed = Recommendation.objects.filter(pk=pk, status__in=statuses, **(where or {})).update(
        status=to, **values
    )
    if changed and audit is not None:
        audit()
    return changed == 1


AUDIT_FIELDS = ("pk", "status", "queue_id", "model_name", "model_version", "prompt_version")


def lock_batch(qs: QuerySet[Recommendation], *extra: str, limit: int) -> list[Recommendation]:
    """Up to `limit` rows of `qs`, locked FOR UPDATE SKIP LOCKED (a reviewer's claim or
    decision is never waited on), with the fields the audit rows need plus `extra`."""
    return list(
        qs.order_by()
        .select_for_update(skip_locked=True, of=("self",))
        .only(*AUDIT_FIELDS, *extra)[:limit]
    )


def move_locked(
    rows: Sequence[Recommendation],
    *,
    sources: Iterable[Status],
    to: Status,
    values: dict[str, Any],
    action: str,
    actor: Actor,
    data: Callable[[Recommendation], dict[str, Any]],
) -> int:
    """Move rows this transaction has locked (`lock_batch`) with one UPDATE and audit each
    with `action` and `data(row)` (read before the move) in one INSERT. Returns the count."""
    if not rows:
        return 0
    statuses = require_legal(sources, to)
    events = [
        audit_event(action=action, actor=actor, recommendation=row, data=data(row)) for row in rows
    ]
    changed = Recommendation.objects.filter(
        pk__in=[row.pk for row in rows], status__in=statuses
    ).update(status=to, **values)
    assert changed == len(rows), "locked rows moved under the lock"
    audit_records(events)
    return changed


CLAIM_SOURCES = (Status.ESCALATED, Status.PENDING, Status.SHADOW)

# Consensus (services/consensus.py): never offer an item to someone who voted on it. Most
# items need one reviewer and skip the look-up on their own column; for the others it is one
# probe of the unique index uniq_vote_per_reviewer (recommendation, reviewer) per candidate
# row, walked in the claim index's order, so the pick stays an index scan with a LIMIT.
NOT_VOTED = (
    "(r.reviewers_needed = 1 OR NOT EXISTS (SELECT 1 FROM reviewqueue_vote v "
    "WHERE v.recommendation_id = r.id AND v.reviewer_id = %(user)s))"
)
require_legal(CLAIM_SOURCES, Status.IN_REVIEW)  # the SQL below writes these moves

_CLAIM_SQL = """
WITH m AS (
    SELECT q.id AS queue_id, q.lease_minutes, mem.role, q.blind_review
    FROM reviewqueue_queue q
    JOIN reviewqueue_membership mem ON mem.queue_id = q.id AND mem.user_id = %(user)s
    WHERE q.slug = %(slug)s
), assigned AS (
    -- An item assigned to the claimer comes first (services/assignment.py); the partial
    -- index rec_assigned_open_idx keeps this a short look-up.
    SELECT r.id FROM reviewqueue_recommendation r
    WHERE r.assigned_to_id = %(user)s AND r.queue_id = (SELECT queue_id FROM m)
      AND (r.status = 'pending'
           OR (r.status = 'escalated' AND (SELECT role FROM m) = %(escalation_role)s)
           OR (r.status = 'shadow' AND (SELECT blind_review FROM m)))
      AND (r.expires_at IS NULL OR r.expires_at > %(now)s)
      AND {NOT_VOTED}
    ORDER BY r.priority DESC, r.created_at, r.id
    LIMIT 1
    FOR UPDATE OF r SKIP LOCKED
), escalated AS (
    SELECT r.id FROM reviewqueue_recommendation r
    WHERE (SELECT role FROM m) = %(escalation_role)s AND r.queue_id = (SELECT queue_id FROM m)
      AND r.status = 'escalated'
      AND (r.expires_at IS NULL OR r.expires_at > %(now)s)
      AND {NOT_VOTED}
    ORDER BY r.priority DESC, r.created_at, r.id
    LIMIT 1
    FOR UPDATE OF r SKIP LOCKED
), pending AS (
    SELECT r.id FROM reviewqueue_recommendation r
    WHERE r.queue_id = (SELECT queue_id FROM m) AND r.status = 'pending'
      AND (r.expires_at IS NULL OR r.expires_at > %(now)s)
      AND {NOT_VOTED}
    ORDER BY r.priority DESC, r.created_at, r.id
    LIMIT 1
    FOR UPDATE OF r SKIP LOCKED
), shadow AS (
    -- Blind review: a blind queue's shadow items are claimed like pending ones, after them.
    SELECT r.id FROM reviewqueue_recommendation r
    WHERE (SELECT blind_review FROM m) AND r.queue_id = (SELECT queue_id FROM m)
      AND r.status = 'shadow'
      AND (r.expires_at IS NULL OR r.expires_at > %(now)s)
      AND {NOT_VOTED}
    ORDER BY r.priority DESC, r.created_at, r.id
    LIMIT 1
    FOR UPDATE OF r SKIP LOCKED
), cand AS (
    -- Assigned items first, then seniors take escalated items. The unused rows stay
    -- locked only for the duration of this statement.
    SELECT COALESCE(
        (SELECT id FROM assigned), (SELECT id FROM escalated), (SELECT id FROM pending),
        (SELECT id FROM shadow)
    ) AS id
), upd AS (
    UPDATE reviewqueue_recommendation rec
    SET status = 'in_review', claimed_by_id = %(user)s, claimed_at = %(now)s,
        lease_expires_at = %(now)s + make_interval(mins => m.lease_minutes), updated_at = %(now)s
    FROM cand, m
    WHERE rec.id = cand.id AND rec.status IN ('escalated', 'pending', 'shadow')
    RETURNING rec.*
), audit AS (
    {AUDIT_INSERT}
    SELECT %(now)s, 'user', %(user)s, NULL, %(username)s, 'recommendation.claimed', upd.id,
           upd.queue_id, upd.model_name, upd.model_version, upd.prompt_version,
           jsonb_build_object('lease_expires_at', upd.lease_expires_at,
                              'escalated', upd.escalated_at IS NOT NULL)
    FROM upd
)
SELECT upd.*, m.role AS member_role
FROM m LEFT JOIN upd ON true
""".replace("{NOT_VOTED}", NOT_VOTED).replace("{AUDIT_INSERT}", AUDIT_INSERT)
# (constant text only; the values are parameters)


def claim_next(*, user: User, slug: str, now: datetime) -> Recommendation | None:
    """Claim the next item of queue `slug` for `user` in one statement: the membership check,
    the pick (an item assigned to `user` first, then for seniors escalated items, then
    pending, then a blind queue's shadow items; highest priority, then oldest; FOR UPDATE
    SKIP LOCKED), the move to `in_review` with a lease, and the `recommendation.claimed`
    audit row.

    Returns None when `user` is not a member of the queue (or it does not exist); otherwise a
    Recommendation whose pk is None when nothing waits."""
    rows = list(
        Recommendation.objects.raw(
            _CLAIM_SQL,
            {
                "user": user.pk,
                "slug": slug,
                "now": now,
                "username": user.get_username(),
                "escalation_role": access.ESCALATION_ROLE.value,
            },
        )
    )
    return rows[0] if rows else None


def move_audited(
    rec: Recommendation,
    *,
    sources: Iterable[Status],
    to: Status,
    values: dict[str, Any],
    where: dict[str, Any] | None = None,
    action: str,
    actor: Actor,
    data: dict[str, Any] | None = None,
) -> bool:
    """`move_one` for an item in hand, and its audit row (`action` by `actor` with `data`),
    in one statement: the row is written only when the item moved. On success the in-memory
    item carries the new status and values."""
    statuses = require_legal(sources, to)
    query = Recommendation.objects.filter(pk=rec.pk, status__in=statuses, **(where or {}))
    update = query.query.chain(UpdateQuery)
    assert isinstance(update, UpdateQuery)
    update.add_update_values({"status": to, **values})
    update_sql, update_params = update.get_compiler(connection=connection).as_sql()
    event = audit_event(action=action, actor=actor, recommendation=rec, data=data)
    select, audit_params = audit_insert_values(event)
    # Constant SQL: Django's compiled UPDATE and the audit writer's select list; every value
    # is a parameter.
    sql = f"WITH moved AS ({update_sql} RETURNING 1) {AUDIT_INSERT} {select} FROM moved"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*update_params, *audit_params])
        moved: bool = cursor.rowcount == 1
    if moved:
        rec.status = to
        for field, value in values.items():
            setattr(rec, field, value)
    return moved
