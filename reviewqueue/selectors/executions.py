"""Reads of executions."""

from django.db.models import QuerySet

from reviewqueue.models import Execution
from reviewqueue.states import ExecutionStatus


def dead_executions(*, limit: int = 200) -> QuerySet[Execution]:
    return (
        Execution.objects.filter(status__in=[ExecutionStatus.DEAD, ExecutionStatus.REFUSED])
        .select_related("recommendation__queue")
        .order_by("-finished_at")[:limit]
    )
