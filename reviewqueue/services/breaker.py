"""The circuit breaker: a supervised or autonomous queue whose auto-executed items fail too
often, or whose QA reviewers reject too many of them, stops auto-executing (it behaves as
`approval`) until an admin resumes it. A trip and a resume are stage moves in the queue's
history (StageChange kinds `breaker` and `resume`), with the numbers as their evidence.

Each resume starts a fresh window: the breaker counts only outcomes after the queue's last
resume (the `resume` row's time), so an admin can resume and retry the dead executions
without the old failures tripping it again. Ingest reads the breaker state from the queue
row in its own transaction (selectors/targets.routing_lock): no cache to forget."""

from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from reviewqueue import access
from reviewqueue.exceptions import Forbidden, IllegalMove, ValidationFailed
from reviewqueue.models import Execution, QaReview, Queue, StageChange, User
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.services.notifications import notify_breaker_tripped
from reviewqueue.states import ExecutionStatus, QaVerdict, Stage

_MIN_SAMPLE = 10
_FAILED = [ExecutionStatus.DEAD, ExecutionStatus.REFUSED]
_FINISHED = [ExecutionStatus.SUCCEEDED, *_FAILED]


def _armed(queue: Queue) -> bool:
    return queue.stage in (Stage.SUPERVISED, Stage.AUTONOMOUS) and not queue.breaker_tripped_at


def _window_start(queue: Queue) -> datetime | None:
    """The moment of the queue's last resume: outcomes before it are not counted."""
    return (
        StageChange.objects.filter(queue=queue, kind="resume")
        .order_by("-changed_at")
        .values_list("changed_at", flat=True)
        .first()
    )


def _trip(*, queue: Queue, reason: str, data: dict[str, Any]) -> bool:
    """Trip once (a filtered update: two evaluations racing trip it once; it waits for the
    share locks of ingests in flight, and every later ingest reads it), record the step back
    in the stage history, audit the numbers, notify the queue's leads and the chat."""
    from reviewqueue.services.stages import stage_history_record

    with transaction.atomic():
        now = timezone.now()
        changed = Queue.objects.filter(pk=queue.pk, breaker_tripped_at__isnull=True).update(
            breaker_tripped_at=now, breaker_reason=reason, updated_at=now
        )
        if changed:
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
            notify_breaker_tripped(queue=queue, reason=reason, at=now)
    return bool(changed)


# A queue's last N auto-executions finished since its last resume, newest first: a walk of
# execution_breaker_idx. Its constants stay in the text (a bound status list or flag would
# not match the partial index's predicate in a generic plan).
_LAST_FINISHED_SQL = f"""
SELECT e.status FROM {Execution._meta.db_table} e
WHERE e.queue_id = CAST(%s AS bigint) AND e.by_policy
  AND e.status IN ({", ".join(f"'{s.value}'" for s in _FINISHED)})
  AND e.finished_at > COALESCE(
      (SELECT max(c.changed_at) FROM {StageChange._meta.db_table} c
       WHERE c.queue_id = CAST(%s AS bigint) AND c.kind = 'resume'),
      '-infinity')
ORDER BY e.finished_at DESC
LIMIT CAST(%s AS integer)
"""  # noqa: S608 - constant text (tables, statuses); the values are parameters


def breaker_evaluate(*, queue: Queue) -> bool:
    """Trip when the failure rate over the last `breaker_window` auto-executions finished
    since the last resume passes the queue's threshold (needs at least min(window, 10) of
    them). Returns whether it tripped now. Audited: `breaker.tripped` with the numbers."""
    if not _armed(queue):
        return False
    with connection.cursor() as cursor:
        cursor.execute(_LAST_FINISHED_SQL, [queue.pk, queue.pk, queue.breaker_window])
        statuses = [status for (status,) in cursor.fetchall()]
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
    reviews since the last resume passes `breaker_max_qa_rejection_rate` (needs at least
    min(window, 10) of them). Returns whether it tripped now. Audited: `breaker.tripped`."""
    if not _armed(queue):
        return False
    reviews = QaReview.objects.filter(queue=queue)
    since = _window_start(queue)
    if since is not None:
        reviews = reviews.filter(reviewed_at__gt=since)
    verdicts = list(
        reviews.order_by("-reviewed_at", "-id").values_list("verdict", flat=True)[
            : queue.breaker_window
        ]
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


def breaker_resume(*, queue: Queue, user: User, comment: str) -> Queue:
    """An admin resumes auto-execution, saying why (a comment is required, 400 without one).

    Preconditions: an admin (403); the breaker is tripped (409). Records the moment as a
    `resume` in the stage history: the breaker counts only outcomes after it (a fresh
    window). Audited: `breaker.resumed` with the previous reason and the comment."""
    from reviewqueue.services.stages import stage_history_record

    if not access.can_administer_queues(user):
        raise Forbidden("Only admins may resume a queue.")
    comment = comment.strip()
    if not comment or len(comment) > 5000:
        raise ValidationFailed(
            "Say why auto-execution may resume.",
            errors={"comment": "Required, at most 5000 characters."},
        )
    with transaction.atomic():
        locked = Queue.objects.select_for_update().get(pk=queue.pk)
        if locked.breaker_tripped_at is None:
            raise IllegalMove("The breaker of this queue is not tripped.")
        previous = locked.breaker_reason
        locked.breaker_tripped_at = None
        locked.breaker_reason = ""
        locked.save(update_fields=["breaker_tripped_at", "breaker_reason", "updated_at"])
        actor = Actor.of_user(user)
        # Always recorded, whatever the stage now: the row is the fresh window's start.
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
