"""What a log line knows about the item being worked on: `recommendation_id`, bound to the
structlog context of the current request or task (cleared when the request ends and when
the next task starts)."""

import structlog

from reviewqueue.lib.ids import DeliveryId, RecommendationId
from reviewqueue.models import CallbackDelivery


def bind_recommendation(recommendation_id: RecommendationId | None) -> None:
    """Only inside a request or a task, whose ends clear the context: a script that ingests
    thousands of items must not stamp the last one's id on everything it logs (and queues)
    afterwards."""
    if recommendation_id is None:
        return
    context = structlog.contextvars.get_contextvars()
    if "request_id" in context or "task_id" in context:
        structlog.contextvars.bind_contextvars(recommendation_id=str(recommendation_id))


def bind_delivery(delivery_id: DeliveryId) -> None:
    """A callback task knows only its delivery: one primary-key read for its item's id."""
    bind_recommendation(
        CallbackDelivery.objects.filter(pk=delivery_id)
        .values_list("recommendation_id", flat=True)
        .first()
    )
