"""The circuit breaker: a supervised or autonomous queue whose auto-executed items fail too
often, or whose QA reviewers reject too many of them, stops auto-executing (it behaves as
`approval`) until an admin resumes it. A trip and a resume are stage moves in the queue's
history (StageChange kinds `breaker` and `resume`), with the numbers as their evidence."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from reviewqueue.exceptions import Forbidden, IllegalMove
from reviewqueue.models import Execution, QaReview, Queue, User
from reviewqueue.selectors.targets import targets_changed
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.states import DecisionKind, ExecutionStatus, QaVerdict, Stage

_MIN_SAMPLE = 10
_FAILED = [ExecutionStatus.DEAD, ExecutionStatus.REFUSED]
_FINISHED = [ExecutionStatus.SUCCEEDED, *_FAILED]


def _armed(queue: Queue) -> bool:
    return queue.stage in (Stage.SUPERVISED, Stage.AUTONOMOUS) and not queue.breaker_tripped_at


def _trip(*, queue: Queue, reason: str, data: dict[str, Any]) -> bool:
    """Trip once (a filtered update: two evaluations racing trip it once), forget cached
    routing targets, record the step back in the stage history, audit the numbers."""
    from reviewqueue.services.stages import stage_history_record

    with transaction.atomic():
        changed = Queue.objects.filter(pk=queue.pk, breaker_tripped_at__isnull=True).update(
            breaker_tripped_at=timezone.now(), breaker_reason=reason, updated_at=timezone.now()
        )
        if changed:
            targets_changed()  # ingest routes by the breaker: stop using the old state
            actor = Actor.system("breaker")
            stage_history_record(
                queue=queue,
                from_stage=queue.stage,
                to_stage=Stage.APPROVAL,
                kind="breaker",
                actor=actor,
                comment=reason,
                evidence=data,
            )
            audit_record(action="breaker.tripped", actor=actor, queue=queue, data=data)
    return bool(changed)


def breaker_evaluate(*, queue: Queue) -> bool:
    """Trip when the failure rate over the last `breaker_window` finished auto-executions
    passes the queue's threshold (needs at least min(window, 10) of them). Returns whether
    it tripped now. Audited: `breaker.tripped` with the numbers."""
    if not _armed(queue):
        return False
    statuses = list(
        Execution.objects.filter(
            recommendation__queue=queue,
            recommendation__decision__kind=DecisionKind.POLICY,
            status__in=_FINISHED,
        )
        .order_by("-finished_at")
        .values_list("status", flat=True)[: queue.breaker_window]
    )
    if len(statuses) < min(queue.breaker_window, _MIN_SAMPLE):
        return False
    failures = sum(1 for s in statuses if s in _FAILED)
    rate = failures / len(statuses)
    if rate <= queue.breaker_max_failure_rate:
        return False
    reason = (
        f"Execution failure rate {rate:.0%} over the last {len(statuses)} auto-executed items "
        f"is above the limit of {queue.breaker_max_failure_rate:.0%}; auto-execution stopped."
    )
    return _trip(
        queue=queue,
        reason=reason,
        data={
            "failures": failures,
            "window": len(statuses),
            "rate": round(rate, 4),
            "threshold": queue.breaker_max_failure_rate,
            "kind": "execution_failure",
        },
    )


def breaker_evaluate_qa(*, queue: Queue) -> bool:
    """Trip when the share of `incorrect` verdicts over the queue's last `breaker_window` QA
    reviews passes `breaker_max_qa_rejection_rate` (needs at least min(window, 10) of them).
    Returns whether it tripped now. Audited: `breaker.tripped` with the numbers."""
    if not _armed(queue):
        return False
    verdicts = list(
        QaReview.objects.filter(queue=queue)
        .order_by("-reviewed_at", "-id")
        .values_list("verdict", flat=True)[: queue.breaker_window]
    )
    if len(verdicts) < min(queue.breaker_window, _MIN_SAMPLE):
        return False
    rejected = sum(1 for v in verdicts if v == QaVerdict.INCORRECT)
    rate = rejected / len(verdicts)
    if rate <= queue.breaker_max_qa_rejection_rate:
        return False
    reason = (
        f"QA rejection rate {rate:.0%} over the last {len(verdicts)} QA-reviewed items "
        f"is above the limit of {queue.breaker_max_qa_rejection_rate:.0%}; "
        "auto-execution stopped."
    )
    return _trip(
        queue=queue,
        reason=reason,
        data={
            "rejected": rejected,
            "window": len(verdicts),
            "rate": round(rate, 4),
            "threshold": queue.breaker_max_qa_rejection_rate,
            "kind": "qa_rejection",
        },
    )


def breaker_resume(*, queue: Queue, user: User, comment: str = "") -> Queue:
    """An admin resumes auto-execution. Audited: `breaker.resumed`; recorded in the stage
    history as a `resume` back to the queue's stage."""
    from reviewqueue.services.stages import stage_history_record

    if not user.is_admin_role:
        raise Forbidden("Only admins may resume a queue.")
    with transaction.atomic():
        locked = Queue.objects.select_for_update().get(pk=queue.pk)
        if locked.breaker_tripped_at is None:
            raise IllegalMove("The breaker of this queue is not tripped.")
        previous = locked.breaker_reason
        locked.breaker_tripped_at = None
        locked.breaker_reason = ""
        locked.save(update_fields=["breaker_tripped_at", "breaker_reason", "updated_at"])
        targets_changed()  # ingest routes by the breaker: stop using the old state
        actor = Actor.of_user(user)
        if locked.stage in (Stage.SUPERVISED, Stage.AUTONOMOUS):
            stage_history_record(
                queue=locked,
                from_stage=Stage.APPROVAL,
                to_stage=locked.stage,
                kind="resume",
                actor=actor,
                comment=comment,
                evidence={"previous_reason": previous},
            )
        audit_record(
            action="breaker.resumed",
            actor=actor,
            queue=locked,
            data={"previous_reason": previous, "comment": comment},
        )
    return locked
