"""Execution: carry out approved actions exactly once, with the payload that was approved.

The execution row is written in the decision's transaction (the outbox) and published
after commit. A worker claims it with a conditional UPDATE (status and due time), which also
leases it: while an attempt runs, `next_attempt_at` is the time after which the attempt
counts as lost (a killed worker) and the sweep may run it again. One ExecutionAttempt row
per try; the target gets the same Idempotency-Key on every try, so a retry after a crash
never acts twice on a target that honours it.

An attempt never overlaps the next one: the executor gets a deadline (the action type's
timeout) that ends a grace period (REVIEWQUEUE_RUNNING_GRACE_SECONDS) before the lease, and
the webhook executor sends nothing after it. Lease times are the database's clock, so
workers on machines whose clocks disagree still agree on when a lease ends. Every started
attempt counts toward `max_attempts`, lost ones too.
"""

import contextlib
import functools
import logging
import os
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from reviewqueue import access
from reviewqueue.exceptions import Forbidden, IllegalMove, NotFound
from reviewqueue.executors import ActionRequest, ActionResult, get_executor
from reviewqueue.lib import signing
from reviewqueue.lib.canonical import content_hash
from reviewqueue.models import (
    ActionType,
    Decision,
    Execution,
    ExecutionAttempt,
    Queue,
    Recommendation,
    Source,
    User,
)
from reviewqueue.observability import metrics
from reviewqueue.observability.context import bind_recommendation
from reviewqueue.services.audit import (
    AUDIT_INSERT,
    Actor,
    audit_event,
    audit_insert_values,
    audit_record,
)
from reviewqueue.services.breaker import breaker_evaluate
from reviewqueue.services.callbacks import callback_event
from reviewqueue.services.outbox import (
    EXECUTE_ACTION,
    retry_delay,
    task_publish_on_commit,
)
from reviewqueue.services.transitions import require_execution_legal
from reviewqueue.states import DecisionKind, ExecutionStatus

log = logging.getLogger(__name__)
# Each conditional UPDATE below filters on the statuses its move starts from, checked against
# the legal-moves table once, here.
_DUE = require_execution_legal(
    [ExecutionStatus.PENDING, ExecutionStatus.RETRYING], ExecutionStatus.RUNNING
)
_TAKEN_OVER = require_execution_legal([ExecutionStatus.RUNNING], ExecutionStatus.RUNNING)
_RETRYABLE = require_execution_legal(
    [ExecutionStatus.DEAD, ExecutionStatus.REFUSED], ExecutionStatus.PENDING
)
_CLAIMED, _EXHAUSTED = "claimed", "exhausted"
MAX_DETAIL_CHARS = 64 * 1024
_LOST = (
    "lost: its worker stopped (killed or stalled) before finishing; the target may have received it"
)


def execution_publish_on_commit(execution_id: int, delay_seconds: int = 0) -> None:
    """Queue the execution task once the current transaction commits (`delay_seconds`: to
    run then, the execution's next_attempt_at; e.g. after a decision's undo window)."""
    task_publish_on_commit(
        EXECUTE_ACTION,
        execution_id,
        what=f"execution {execution_id}",
        countdown=delay_seconds or None,
    )


def _columns(model: type[models.Model], alias: str) -> list[str]:
    return [f'{alias}."{field.column}"' for field in model._meta.concrete_fields]


@functools.cache
def _converters(model: type[models.Model]) -> list[tuple[Any, list[Any]]]:
    """Per concrete field, its column expression and the ORM's converters for its values."""
    result = []
    for field in model._meta.concrete_fields:
        col = field.get_col(model._meta.db_table)
        result.append(
            (col, connection.ops.get_db_converters(col) + col.get_db_converters(connection))
        )
    return result


def _load[M: models.Model](model: type[M], values: list[Any]) -> M:
    """A model instance from its concrete columns' raw values, converted as the ORM would."""
    converted = []
    for (col, converters), value in zip(_converters(model), values, strict=True):
        for convert in converters:
            value = convert(value, col, connection)
        converted.append(value)
    return model.from_db(
        connection.alias, [f.attname for f in model._meta.concrete_fields], converted
    )


_E, _A = Execution._meta.db_table, ExecutionAttempt._meta.db_table
_R, _T = Recommendation._meta.db_table, ActionType._meta.db_table
_LOADED = (Execution, Recommendation, ActionType, Queue, Source)
# The claim, one statement (see execution_run): lease a due execution (or one whose lease ran
# out) for one attempt, close the attempts that were lost, insert this attempt's row, and
# read everything the attempt needs. The lease is the database's clock plus the action
# type's timeout and the grace period; a due time is the app's (a decision, a retry).
_CLAIM_SQL = f"""
WITH claimed AS (
    UPDATE {_E} e
    SET status = '{ExecutionStatus.RUNNING.value}', attempts = e.attempts + 1,
        next_attempt_at = statement_timestamp()
            + make_interval(secs => t.timeout_seconds + CAST(%s AS double precision)),
        updated_at = CAST(%s AS timestamptz)
    FROM {_R} r JOIN {_T} t ON t.id = r.action_type_id
    WHERE e.id = CAST(%s AS bigint) AND r.id = e.recommendation_id
      AND e.attempts < e.max_attempts
      AND ((e.status IN ({", ".join(f"'{v}'" for v in _DUE)})
            AND e.next_attempt_at <= CAST(%s AS timestamptz))
           OR (e.status IN ({", ".join(f"'{v}'" for v in _TAKEN_OVER)})
               AND e.next_attempt_at <= statement_timestamp()))
    RETURNING {", ".join(_columns(Execution, "e"))}
), lost AS (
    UPDATE {_A} a
    SET finished_at = CAST(%s AS timestamptz), outcome = 'lost', error = CAST(%s AS text)
    FROM claimed c
    WHERE a.execution_id = c.id AND a.finished_at IS NULL AND a.number < c.attempts
), attempt AS (
    INSERT INTO {_A} (execution_id, number, started_at, outcome, error, detail)
    SELECT c.id, c.attempts, CAST(%s AS timestamptz), '', '', '' FROM claimed c
    RETURNING id
)
SELECT {", ".join(_columns(Execution, "c"))}, {", ".join(_columns(Recommendation, "r"))},
       {", ".join(_columns(ActionType, "t"))}, {", ".join(_columns(Queue, "q"))},
       {", ".join(_columns(Source, "s"))}, attempt.id, d.kind, d.payload_hash
FROM claimed c CROSS JOIN attempt
JOIN {_R} r ON r.id = c.recommendation_id
JOIN {_T} t ON t.id = r.action_type_id
JOIN {Queue._meta.db_table} q ON q.id = r.queue_id
JOIN {Source._meta.db_table} s ON s.id = r.source_id
LEFT JOIN {Decision._meta.db_table} d ON d.recommendation_id = r.id
"""  # noqa: S608 - constant text (tables, statuses); the values are parameters

# Taking over an execution whose last allowed attempt was lost: leased to be finished as
# dead, nothing is sent (see _take_over_exhausted).
_EXHAUSTED_SQL = f"""
UPDATE {_E} e
SET next_attempt_at = statement_timestamp()
    + make_interval(secs => t.timeout_seconds + CAST(%s AS double precision))
FROM {_R} r JOIN {_T} t ON t.id = r.action_type_id
WHERE e.id = CAST(%s AS bigint) AND r.id = e.recommendation_id
  AND e.status IN ({", ".join(f"'{v}'" for v in _TAKEN_OVER)})
  AND e.next_attempt_at <= statement_timestamp() AND e.attempts >= e.max_attempts
"""  # noqa: S608 - constant text (tables, statuses); the values are parameters


@dataclass
class _Claimed:
    execution: Execution  # with its recommendation, action type, queue and source
    attempt_id: int
    attempt_number: int
    decision_kind: str | None  # None: no decision recorded (then the attempt is refused)
    decision_hash: str | None


def _claim(execution_id: int) -> _Claimed | None:
    """Lease the execution for one attempt (attempts + 1) and start the attempt's row, in
    one statement; None when it is not due, done, or another worker holds it."""
    now = timezone.now()
    params: list[Any] = [
        settings.REVIEWQUEUE_RUNNING_GRACE_SECONDS,
        now,
        execution_id,
        now,
        now,
        _LOST,
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    loaded = []
    for model in _LOADED:
        width = len(model._meta.concrete_fields)
        loaded.append(_load(model, values[:width]))
        values = values[width:]
    execution, rec, action_type, queue, source = loaded
    assert isinstance(execution, Execution) and isinstance(rec, Recommendation)
    assert isinstance(action_type, ActionType) and isinstance(queue, Queue)
    assert isinstance(source, Source)
    rec.action_type, rec.queue, rec.source = action_type, queue, source
    execution.recommendation = rec
    attempt_id, kind, payload_hash = values
    return _Claimed(execution, attempt_id, execution.attempts, kind, payload_hash)


def _take_over_exhausted(execution_id: int) -> tuple[Execution, ExecutionAttempt] | None:
    """When `_claim` got nothing: an execution running past its lease whose attempts are all
    used is leased again to be finished (dead) without sending anything. Rare (a worker
    lost on the last attempt), so plain ORM reads after the one conditional UPDATE."""
    with connection.cursor() as cursor:
        cursor.execute(_EXHAUSTED_SQL, [settings.REVIEWQUEUE_RUNNING_GRACE_SECONDS, execution_id])
        if cursor.rowcount != 1:
            return None
    execution = Execution.objects.select_related(
        "recommendation__action_type", "recommendation__queue", "recommendation__source"
    ).get(pk=execution_id)
    _close_lost_attempts(execution, timezone.now())
    attempt, _ = ExecutionAttempt.objects.get_or_create(
        execution=execution, number=execution.attempts
    )
    return execution, attempt


def _close_lost_attempts(execution: Execution, now: datetime) -> None:
    """Earlier attempts still open were lost: their lease ran out before they finished."""
    ExecutionAttempt.objects.filter(
        execution=execution, finished_at__isnull=True, number__lt=execution.attempts
    ).update(finished_at=now, outcome="lost", error=_LOST)


def execution_run(*, execution_id: int) -> str | None:
    """Run one attempt of a due execution. Returns the new status, or None when there was
    nothing to do (already done, not due, or another worker holds it).

    Two statements on the database in the usual case: the claim (`_claim`: lease, attempt
    row, everything the attempt needs) and the finish (`_finish`: status, attempt, audit);
    then, for a policy-approved item, the circuit breaker.
    Refuses, loudly, a payload whose hash differs from the one recorded with the decision.
    Whatever the executor raises, the attempt is finished and the execution retried
    (network errors) or dead, never left running for the sweep to run again.
    Audited: `execution.succeeded`, `execution.retrying`, `execution.dead`, `execution.refused`.
    """
    started = time.monotonic()  # the deadline counts from before the lease starts
    claimed = _claim(execution_id)
    if claimed is None:
        taken_over = _take_over_exhausted(execution_id)
        if taken_over is None:
            return None
        execution, attempt = taken_over
        bind_recommendation(execution.recommendation_id)
        decision = (
            Decision.objects.filter(recommendation_id=execution.recommendation_id)
            .only("kind")
            .first()
        )
        return _finish(
            execution,
            attempt.pk,
            attempt.number,
            ActionResult(ok=False, error=f"attempt {attempt.number} was {_LOST}; none left"),
            decision_kind=decision.kind if decision else None,
        )
    execution = claimed.execution
    bind_recommendation(execution.recommendation_id)
    action_type = execution.recommendation.action_type
    deadline = started + action_type.timeout_seconds
    refused = False
    try:
        result, refused = _attempt(execution, action_type, deadline, claimed.decision_hash)
    except Exception as exc:  # any bug or failure of an executor: finish the attempt anyway
        log.exception("execution %s attempt %s raised", execution.pk, claimed.attempt_number)
        result = ActionResult(
            ok=False,
            transient=isinstance(exc, OSError),  # a network failure; anything else is a bug
            error=f"the executor raised {type(exc).__name__}",
            detail=traceback.format_exc()[-MAX_DETAIL_CHARS:],
        )
    return _finish(
        execution,
        claimed.attempt_id,
        claimed.attempt_number,
        result,
        refused=refused,
        decision_kind=claimed.decision_kind,
    )


def _attempt(
    execution: Execution, action_type: ActionType, deadline: float, decision_hash: str | None
) -> tuple[ActionResult, bool]:
    """Check, then call the executor. Returns its result and whether it was refused.
    `decision_hash`: the payload hash recorded with the decision (None: no decision)."""
    rec = execution.recommendation
    stored_hash = content_hash(execution.payload)
    if (
        decision_hash is None
        or stored_hash != execution.payload_hash
        or stored_hash != decision_hash
    ):
        log.error(
            "REFUSED execution %s of recommendation %s: the stored payload does not match the "
            "hash recorded with the decision (stored %s, decision %s)",
            execution.pk,
            rec.pk,
            stored_hash,
            decision_hash,
        )
        error = "payload does not match the approved hash; refused"
        return ActionResult(ok=False, error=error), True
    env_name = action_type.signing_secret_env
    if action_type.executor in signing.SIGNED_EXECUTORS:
        problem = signing.signing_secret_problem(env_name)
        if problem:
            return ActionResult(ok=False, error=f"not sent: {problem}"), False
    try:
        executor = get_executor(action_type.executor)
    except (LookupError, ImportError) as exc:
        return ActionResult(ok=False, error=f"unknown executor: {exc}"), False
    request = ActionRequest(
        action_type=action_type.name,
        url=action_type.url,
        payload=execution.payload,
        recommendation_id=str(rec.pk),
        idempotency_key=execution.idempotency_key,
        secret=os.environ.get(env_name) if env_name else None,
        timeout=action_type.timeout_seconds,
        deadline=deadline,
    )
    return executor(request), False


# The finish, one statement: only the attempt that holds the lease (still running, same
# attempt count) may finish it; then its attempt row and its audit event, written only
# when the execution moved. The audit select list comes from the audit writer.
_AUDIT_SELECT, _ = audit_insert_values(
    audit_event(action="", actor=Actor.system("worker"), recommendation=None)
)
_FINISH_SQL = f"""
WITH fin AS (
    UPDATE {_E}
    SET status = CAST(%s AS varchar), updated_at = CAST(%s AS timestamptz),
        last_error = CAST(%s AS text),
        next_attempt_at = COALESCE(CAST(%s AS timestamptz), next_attempt_at),
        finished_at = CAST(%s AS timestamptz)
    WHERE id = CAST(%s AS bigint) AND status = ANY(CAST(%s AS text[]))
      AND attempts = CAST(%s AS integer)
    RETURNING id
), attempt AS (
    UPDATE {_A}
    SET finished_at = CAST(%s AS timestamptz), http_status = CAST(%s AS integer),
        error = CAST(%s AS text), detail = CAST(%s AS text), outcome = CAST(%s AS varchar)
    WHERE id = CAST(%s AS bigint) AND EXISTS (SELECT FROM fin)
), audit AS (
    {AUDIT_INSERT}
    {_AUDIT_SELECT} FROM fin
)
SELECT count(*) FROM fin
"""  # noqa: S608 - constant text (tables, statuses); the values are parameters


def _finish(
    execution: Execution,
    attempt_id: int,
    attempt_number: int,
    result: ActionResult,
    *,
    refused: bool = False,
    decision_kind: str | None,
) -> str:
    now = timezone.now()
    rec = execution.recommendation
    if result.ok:
        status = ExecutionStatus.SUCCEEDED
    elif refused:
        status = ExecutionStatus.REFUSED
    elif result.transient and execution.attempts < execution.max_attempts:
        status = ExecutionStatus.RETRYING
    else:
        status = ExecutionStatus.DEAD
    finished = status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.DEAD, ExecutionStatus.REFUSED)
    delay = None
    next_attempt_at = None
    if status == ExecutionStatus.RETRYING:
        delay = retry_delay(execution.attempts, result.retry_after)
        next_attempt_at = now + timedelta(seconds=delay)
    event = audit_event(
        action=f"execution.{status}",
        actor=Actor.system("worker"),
        recommendation=rec,
        data={
            "attempt": attempt_number,
            "http_status": result.http_status,
            "error": result.error[:500],
            "retry_in_seconds": round(delay, 3) if delay is not None else None,
        },
    )
    _, audit_params = audit_insert_values(event)
    params = [
        status.value,
        now,
        result.error,
        next_attempt_at,
        None if status == ExecutionStatus.RETRYING else now,
        execution.pk,
        require_execution_legal([ExecutionStatus.RUNNING], status),
        execution.attempts,
        now,
        result.http_status,
        result.error,
        result.detail[:MAX_DETAIL_CHARS],
        {"retrying": "retry"}.get(status, status.value),
        attempt_id,
        *audit_params,
    ]
    # The callback event is written in the finish's transaction (the outbox); without one,
    # the finish is a statement on its own.
    callback = finished and bool(rec.source.callback_url)
    with transaction.atomic() if callback else contextlib.nullcontext():
        with connection.cursor() as cursor:
            cursor.execute(_FINISH_SQL, params)
            (changed,) = cursor.fetchone() or (0,)
        if changed != 1:
            log.warning(
                "execution %s attempt %s lost its lease; result dropped",
                execution.pk,
                attempt_number,
            )
            return ExecutionStatus.RUNNING
        execution.status, execution.updated_at, execution.last_error = status, now, result.error
        if next_attempt_at is not None:
            execution.next_attempt_at = next_attempt_at
        else:
            execution.finished_at = now
        metrics.executed(execution, status)
        if callback:
            event_type = (
                "execution.succeeded" if status == ExecutionStatus.SUCCEEDED else "execution.dead"
            )
            callback_event(
                recommendation=rec, source=rec.source, event_type=event_type, execution=execution
            )
    if finished and decision_kind == DecisionKind.POLICY:
        _evaluate_breaker(rec)
    if status == ExecutionStatus.RETRYING and delay is not None:
        task_publish_on_commit(
            EXECUTE_ACTION, execution.pk, what=f"retry of {execution.pk}", countdown=delay
        )
    return status


def _evaluate_breaker(rec: Recommendation) -> None:
    """After a policy-approved execution finished and its finish committed: the breaker
    runs in its own transaction (it locks the queue row before it audits, as stage moves
    do), never inside the finish, so the finish holds no lock while the breaker reads. A
    failure of the breaker is logged and never undoes the record of what the target was
    sent."""
    try:
        breaker_evaluate(queue=rec.queue)
    except Exception:
        log.exception("breaker evaluation failed for queue %s", rec.queue.slug)


def execution_retry(*, execution_id: int, user: User) -> Execution:
    """An admin sends a dead (or refused) execution back for another round of attempts.
    Audited: `execution.retry_requested`."""
    if not access.can_administer_queues(user):
        raise Forbidden("Only admins may retry executions.")
    with transaction.atomic():
        execution = (
            Execution.objects.select_for_update()
            .select_related("recommendation__action_type")
            .filter(pk=execution_id)
            .first()
        )
        if execution is None:
            raise NotFound("No such execution.")
        if execution.status not in _RETRYABLE:
            raise IllegalMove(
                f"Only dead executions can be retried; this one is {execution.status}."
            )
        now = timezone.now()
        execution.status = ExecutionStatus.PENDING
        execution.max_attempts = (
            execution.attempts + execution.recommendation.action_type.max_attempts
        )
        execution.next_attempt_at = execution.updated_at = now
        execution.finished_at = None
        execution.save(
            update_fields=["status", "max_attempts", "next_attempt_at", "updated_at", "finished_at"]
        )
        audit_record(
            action="execution.retry_requested",
            actor=Actor.of_user(user),
            recommendation=execution.recommendation,
            data={"attempts_so_far": execution.attempts},
        )
        execution_publish_on_commit(execution.pk)
    return execution


def executions_due(*, limit: int = 500) -> list[int]:
    """Executions the sweep should (re)publish: due and waiting a little (so fresh rows are
    left to their on-commit publish), or running past their lease (a lost attempt)."""
    now = timezone.now()
    return list(
        Execution.objects.filter(
            Q(status__in=_DUE, next_attempt_at__lte=now - timedelta(seconds=5))
            | Q(status=ExecutionStatus.RUNNING, next_attempt_at__lte=Now())
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
