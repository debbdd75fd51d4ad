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

import logging
import os
import time
import traceback
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
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
    Recommendation,
    User,
)
from reviewqueue.observability import metrics
from reviewqueue.observability.context import bind_recommendation
from reviewqueue.services.audit import Actor, audit_record
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


def _claim(execution_id: int, timeout: float) -> str | None:
    """Lease the execution for one attempt: "claimed" (attempts + 1), "exhausted" (its last
    allowed attempt was lost: taken over to be finished, nothing is sent), or None."""
    lease = Now() + timedelta(seconds=timeout + settings.REVIEWQUEUE_RUNNING_GRACE_SECONDS)
    # A due time is written by the app's clock (decision, retry); a lease by the database's.
    due = Q(status__in=_DUE, next_attempt_at__lte=timezone.now())
    lost = Q(status__in=_TAKEN_OVER, next_attempt_at__lte=Now())
    rows = Execution.objects.filter(pk=execution_id)
    if (
        rows.filter(due | lost, attempts__lt=F("max_attempts")).update(
            status=ExecutionStatus.RUNNING,
            attempts=F("attempts") + 1,
            next_attempt_at=lease,
            updated_at=timezone.now(),
        )
        == 1
    ):
        return _CLAIMED
    if rows.filter(lost, attempts__gte=F("max_attempts")).update(next_attempt_at=lease) == 1:
        return _EXHAUSTED
    return None


def _close_lost_attempts(execution: Execution, now: datetime) -> None:
    """Earlier attempts still open were lost: their lease ran out before they finished."""
    ExecutionAttempt.objects.filter(
        execution=execution, finished_at__isnull=True, number__lt=execution.attempts
    ).update(finished_at=now, outcome="lost", error=_LOST)


def execution_run(*, execution_id: int) -> str | None:
    """Run one attempt of a due execution. Returns the new status, or None when there was
    nothing to do (already done, not due, or another worker holds it).

    Refuses, loudly, a payload whose hash differs from the one recorded with the decision.
    Whatever the executor raises, the attempt is finished and the execution retried
    (network errors) or dead, never left running for the sweep to run again.
    Audited: `execution.succeeded`, `execution.retrying`, `execution.dead`, `execution.refused`.
    """
    row = (
        Execution.objects.select_related("recommendation__action_type")
        .filter(pk=execution_id)
        .first()
    )
    if row is None:
        return None
    bind_recommendation(row.recommendation_id)
    action_type = row.recommendation.action_type
    deadline = time.monotonic() + action_type.timeout_seconds  # before the lease starts
    claim = _claim(execution_id, action_type.timeout_seconds)
    if claim is None:
        return None
    execution = Execution.objects.select_related(
        "recommendation__action_type", "recommendation__queue", "recommendation__source"
    ).get(pk=execution_id)
    _close_lost_attempts(execution, timezone.now())
    if claim == _EXHAUSTED:
        attempt, _ = ExecutionAttempt.objects.get_or_create(
            execution=execution, number=execution.attempts
        )
        return _finish(
            execution,
            attempt,
            ActionResult(ok=False, error=f"attempt {attempt.number} was {_LOST}; none left"),
        )
    attempt = ExecutionAttempt.objects.create(execution=execution, number=execution.attempts)
    refused = False
    try:
        result, refused = _attempt(execution, action_type, deadline)
    except Exception as exc:  # any bug or failure of an executor: finish the attempt anyway
        log.exception("execution %s attempt %s raised", execution.pk, attempt.number)
        result = ActionResult(
            ok=False,
            transient=isinstance(exc, OSError),  # a network failure; anything else is a bug
            error=f"the executor raised {type(exc).__name__}",
            detail=traceback.format_exc()[-MAX_DETAIL_CHARS:],
        )
    return _finish(execution, attempt, result, refused=refused)


def _attempt(
    execution: Execution, action_type: ActionType, deadline: float
) -> tuple[ActionResult, bool]:
    """Check, then call the executor. Returns its result and whether it was refused."""
    rec = execution.recommendation
    decision = Decision.objects.filter(recommendation=rec).first()
    stored_hash = content_hash(execution.payload)
    if (
        decision is None
        or stored_hash != execution.payload_hash
        or stored_hash != decision.payload_hash
    ):
        log.error(
            "REFUSED execution %s of recommendation %s: the stored payload does not match the "
            "hash recorded with the decision (stored %s, decision %s)",
            execution.pk,
            rec.pk,
            stored_hash,
            decision.payload_hash if decision else None,
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


def _finish(
    execution: Execution, attempt: ExecutionAttempt, result: ActionResult, refused: bool = False
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
    with transaction.atomic():
        # Only the attempt that holds the lease may finish it.
        update: dict[str, Any] = {"status": status, "updated_at": now, "last_error": result.error}
        delay = None
        if status == ExecutionStatus.RETRYING:
            delay = retry_delay(execution.attempts, result.retry_after)
            update["next_attempt_at"] = now + timedelta(seconds=delay)
        else:
            update["finished_at"] = now
        changed = Execution.objects.filter(
            pk=execution.pk,
            status__in=require_execution_legal([ExecutionStatus.RUNNING], status),
            attempts=execution.attempts,
        ).update(**update)
        if changed != 1:
            log.warning(
                "execution %s attempt %s lost its lease; result dropped",
                execution.pk,
                attempt.number,
            )
            return ExecutionStatus.RUNNING
        for key, value in update.items():
            setattr(execution, key, value)
        metrics.executed(execution, status)
        attempt.finished_at = now
        attempt.http_status = result.http_status
        attempt.error = result.error
        attempt.detail = result.detail[:MAX_DETAIL_CHARS]
        attempt.outcome = {"retrying": "retry"}.get(status, status)
        attempt.save(update_fields=["finished_at", "http_status", "error", "detail", "outcome"])
        finished = status in (
            ExecutionStatus.SUCCEEDED,
            ExecutionStatus.DEAD,
            ExecutionStatus.REFUSED,
        )
        if finished:
            _evaluate_breaker(rec)
        audit_record(
            action=f"execution.{status}",
            actor=Actor.system("worker"),
            recommendation=rec,
            data={
                "attempt": attempt.number,
                "http_status": result.http_status,
                "error": result.error[:500],
                "retry_in_seconds": round(delay, 3) if delay is not None else None,
            },
        )
        if finished:
            event = (
                "execution.succeeded" if status == ExecutionStatus.SUCCEEDED else "execution.dead"
            )
            callback_event(
                recommendation=rec, source=rec.source, event_type=event, execution=execution
            )
    if status == ExecutionStatus.RETRYING and delay is not None:
        task_publish_on_commit(
            EXECUTE_ACTION, execution.pk, what=f"retry of {execution.pk}", countdown=delay
        )
    return status


def _evaluate_breaker(rec: Recommendation) -> None:
    """After a policy-approved execution finished. The breaker first: it locks the queue row
    before it audits, as stage moves do; auditing before it (which locks the queue's audit
    chain head) could deadlock with a concurrent stage move or resume. A failure of the
    breaker is logged and never undoes the record of what the target was sent."""
    decision = Decision.objects.filter(recommendation=rec).only("kind").first()
    if decision is None or decision.kind != DecisionKind.POLICY:
        return
    try:
        with transaction.atomic():
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
