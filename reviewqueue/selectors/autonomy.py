"""Reads for staged autonomy: a queue's stage history, its QA list, shadow disagreements."""

from django.db.models import Q

from reviewqueue import access
from reviewqueue.exceptions import NotFound
from reviewqueue.lib.lookup import by_unique_key
from reviewqueue.models import Decision, Queue, Recommendation, StageChange, User
from reviewqueue.states import DecisionKind, Outcome, Route


def queue_for_reader(*, user: User, slug: str) -> Queue:
    """The queue, for its members, admins and auditors; anyone else gets NotFound (404)."""
    queue = by_unique_key(Queue.objects.filter(slug=slug))
    if queue is None or not access.can_read_queue(user, queue):
        raise NotFound(f"No queue '{slug}'.")
    return queue


def stage_history(*, queue: Queue, limit: int = 100) -> list[StageChange]:
    """The queue's stage moves, newest first."""
    return list(
        StageChange.objects.filter(queue=queue)
        .select_related("user")
        .order_by("-changed_at", "-id")[:limit]
    )


def qa_pending(*, queue: Queue, limit: int = 50) -> list[Recommendation]:
    """Sampled auto-executed items without a QA verdict yet, oldest first."""
    return list(
        Recommendation.objects.filter(
            queue=queue, qa_sampled=True, route=Route.AUTO, qa_review__isnull=True
        )
        .select_related("action_type", "source", "execution")
        .order_by("created_at", "id")[:limit]
    )


def qa_counts(*, queue: Queue) -> dict[str, int]:
    """Sampled items, verdicts by kind, and what is left to review."""
    sampled = Recommendation.objects.filter(queue=queue, qa_sampled=True, route=Route.AUTO)
    total = sampled.count()
    correct = sampled.filter(qa_review__verdict="correct").count()
    incorrect = sampled.filter(qa_review__verdict="incorrect").count()
    return {
        "sampled": total,
        "correct": correct,
        "incorrect": incorrect,
        "waiting": total - correct - incorrect,
    }


def shadow_disagreements(*, queue: Queue, limit: int = 100) -> list[Decision]:
    """Compared shadow items where people did not do what the AI proposed: rejected, or
    modified beyond cosmetic fields. The same rule as agreement (reported human outcomes and
    blind reviews), newest first, for admins and auditors to study."""
    compared = Q(kind=DecisionKind.EXTERNAL) | Q(
        kind=DecisionKind.HUMAN, recommendation__route=Route.SHADOW
    )
    disagreed = Q(outcome=Outcome.REJECT) | Q(outcome=Outcome.MODIFY, is_cosmetic=False)
    return list(
        Decision.objects.filter(queue=queue)
        .filter(compared)
        .filter(disagreed)
        .select_related("recommendation", "reviewer", "action_type")
        .order_by("-decided_at", "-id")[:limit]
    )
