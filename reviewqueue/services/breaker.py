"""The circuit breaker: a supervised or autonomous queue whose auto-executed items fail too
often stops auto-executing (it behaves as `approval`) until an admin resumes it."""

from django.db import transaction
from django.utils import timezone

from reviewqueue.exceptions import Forbidden, IllegalMove
from reviewqueue.models import Execution, Queue, User
from reviewqueue.selectors.targets import targets_changed
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.states import DecisionKind, ExecutionStatus, Stage

_MIN_SAMPLE = 10
_FAILED = [ExecutionStatus.DEAD, ExecutionStatus.REFUSED]
_FINISHED = [ExecutionStatus.SUCCEEDED, *_FAILED]


def breaker_evaluate(*, queue: Queue) -> bool:
    """Trip when the failure rate over the last `breaker_window` finished auto-executions
    passes the queue's threshold (needs at least min(window, 10) of them). Returns whether
    it tripped now. Audited: `breaker.tripped` with the numbers."""
    if queue.stage not in (Stage.SUPERVISED, Stage.AUTONOMOUS) or queue.breaker_tripped_at:
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
    with transaction.atomic():
        changed = Queue.objects.filter(pk=queue.pk, breaker_tripped_at__isnull=True).update(
            breaker_tripped_at=timezone.now(), breaker_reason=reason
        )
        if changed:
            targets_changed()  # ingest routes by the breaker: stop using the old state
            audit_record(
                action="breaker.tripped",
                actor=Actor.system("breaker"),
                queue=queue,
                data={
                    "failures": failures,
                    "window": len(statuses),
                    "rate": round(rate, 4),
                    "threshold": queue.breaker_max_failure_rate,
                    "kind": "execution_failure",
                },
            )
    return bool(changed)


def breaker_resume(*, queue: Queue, user: User, comment: str = "") -> Queue:
    """An admin resumes auto-execution. Audited: `breaker.resumed`."""
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
        audit_record(
            action="breaker.resumed",
            actor=Actor.of_user(user),
            queue=locked,
            data={"previous_reason": previous, "comment": comment},
        )
    return locked
