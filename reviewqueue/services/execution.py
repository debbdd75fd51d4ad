"""Execution: carry out approved actions exactly once, with the payload that was approved.

The execution row is written in the decision's transaction (the outbox) and published
after commit. A worker claims it with a conditional UPDATE (status and due time), which also
leases it: while an attempt runs, `next_attempt_at` is the time after which the attempt
counts as lost (a killed worker) and the sweep may run it again. One ExecutionAttempt row
per try; the target gets the same Idempotency-Key on every try, so a retry after a crash
never acts twice on a target that honours it.
"""

import logging
import os
import random
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from reviewqueue.exceptions import Forbidden, IllegalMove, NotFound
from reviewqueue.executors import ActionRequest, ActionResult, get_executor
from reviewqueue.lib.canonical import content_hash
from reviewqueue.models import Decision, Execution, ExecutionAttempt, Recommendation, User
from reviewqueue.observability import metrics
from reviewqueue.observability.context import bind_recommendation
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.services.breaker import breaker_evaluate
from reviewqueue.services.callbacks import callback_event
from reviewqueue.services.outbox import publish_on_commit
from reviewqueue.states import DecisionKind, ExecutionStatus

log = logging.getLogger(__name__)
_DUE = [ExecutionStatus.PENDING, ExecutionStatus.RETRYING]


def execution_publish_on_commit(execution_id: int) -> None:
    """Queue the execution task once the current transaction commits."""
    from reviewqueue.tasks import execute_action

    publish_on_commit(lambda: execute_action.delay(execution_id), f"execution {execution_id}")


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter."""
    cap = min(
        settings.REVIEWQUEUE_RETRY_MAX_SECONDS,
        settings.REVIEWQUEUE_RETRY_BASE_SECONDS * 2 ** (attempt - 1),
    )
    return random.uniform(cap / 2, cap)


def _claim(execution_id: int, timeout: float) -> bool:
    now = timezone.now()
    claimable = Q(status__in=_DUE, next_attempt_at__lte=now) | Q(
        status=ExecutionStatus.RUNNING,
        next_attempt_at__lte=now,  # a lost attempt (killed worker)
    )
    return (
        Execution.objects.filter(claimable, pk=execution_id).update(
            status=ExecutionStatus.RUNNING,
            attempts=F("attempts") + 1,
            next_attempt_at=now
            + timedelta(seconds=timeout + settings.REVIEWQUEUE_RUNNING_GRACE_SECONDS),
            updated_at=now,
        )
        == 1
    )


def execution_run(*, execution_id: int) -> str | None:
    """Run one attempt of a due execution. Returns the new status, or None when there was
    nothing to do (already done, not due, or another worker holds it).

    Refuses, loudly, a payload whose hash differs from the one recorded with the decision.
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
    if not _claim(execution_id, action_type.timeout_seconds):
        return None
    execution = Execution.objects.select_related(
        "recommendation__action_type", "recommendation__queue", "recommendation__source"
    ).get(pk=execution_id)
    rec = execution.recommendation
    attempt = ExecutionAttempt.objects.create(execution=execution, number=execution.attempts)
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
        return _finish(
            execution,
            attempt,
            ActionResult(ok=False, error="payload does not match the approved hash; refused"),
            refused=True,
        )
    secret = (
        os.environ.get(action_type.signing_secret_env) if action_type.signing_secret_env else None
    )
    request = ActionRequest(
        action_type=action_type.name,
        url=action_type.url,
        payload=execution.payload,
        recommendation_id=str(rec.pk),
        idempotency_key=execution.idempotency_key,
        secret=secret,
        timeout=action_type.timeout_seconds,
    )
    try:
        result = get_executor(action_type.executor)(request)
    except LookupError as exc:
        result = ActionResult(ok=False, error=str(exc))
    return _finish(execution, attempt, result)


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
            delay = (
                result.retry_after
                if result.retry_after is not None
                else _backoff(execution.attempts)
            )
            update["next_attempt_at"] = now + timedelta(seconds=delay)
        else:
            update["finished_at"] = now
        changed = Execution.objects.filter(
            pk=execution.pk, status=ExecutionStatus.RUNNING, attempts=execution.attempts
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
        attempt.outcome = {"retrying": "retry"}.get(status, status)
        attempt.save(update_fields=["finished_at", "http_status", "error", "outcome"])
        finished = status in (
            ExecutionStatus.SUCCEEDED,
            ExecutionStatus.DEAD,
            ExecutionStatus.REFUSED,
        )
        if finished:
            # The breaker first: it locks the queue row before it audits, as stage moves do;
            # auditing before it (which locks the queue's audit chain head) could deadlock
            # with a concurrent stage move or resume.
            decision = Decision.objects.filter(recommendation=rec).only("kind").first()
            if decision is not None and decision.kind == DecisionKind.POLICY:
                breaker_evaluate(queue=rec.queue)
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
        from reviewqueue.tasks import execute_action

        publish_on_commit(
            lambda: execute_action.apply_async((execution.pk,), countdown=delay),
            f"retry of {execution.pk}",
        )
    return status


def execution_retry(*, execution_id: int, user: User) -> Execution:
    """An admin sends a dead (or refused) execution back for another round of attempts.
    Audited: `execution.retry_requested`."""
    if not user.is_admin_role:
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
        if execution.status not in (ExecutionStatus.DEAD, ExecutionStatus.REFUSED):
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
            | Q(status=ExecutionStatus.RUNNING, next_attempt_at__lte=now)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def recommendation_execution(recommendation: Recommendation) -> Execution | None:
    return Execution.objects.filter(recommendation=recommendation).first()
