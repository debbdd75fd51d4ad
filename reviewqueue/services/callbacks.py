"""Callbacks to sources: decision.made, execution.succeeded, execution.dead. Each event is a
row (the outbox) written in the transaction of the change it reports, then delivered signed
with retries; its `id` lets the source de-duplicate."""

import os
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reviewqueue.executors.base import ActionResult
from reviewqueue.executors.http import post_signed
from reviewqueue.lib import signing
from reviewqueue.lib.ids import DeliveryId
from reviewqueue.models import CallbackDelivery, Decision, Execution, Recommendation, Source
from reviewqueue.representations import decision_repr, execution_repr, iso
from reviewqueue.services.outbox import DELIVER_CALLBACK, retry_delay, task_publish_on_commit

# A delivery's request ends within _DEADLINE_SECONDS; its claim is a lease of
# _LEASE_SECONDS, so no second worker sends the event while the first may still be sending.
_DEADLINE_SECONDS = 10.0
_LEASE_SECONDS = 60.0


def callback_event(**event: Any) -> CallbackDelivery | None:
    """Write the event row (`callback_row`'s arguments) in the caller's transaction and
    publish it on commit; None when the source has no URL."""
    delivery = callback_row(**event)
    if delivery is not None:
        delivery.save(force_insert=True)
        callback_publish_on_commit(delivery, event.get("delay_seconds", 0))
    return delivery


def callback_row(
    *,
    recommendation: Recommendation,
    source: Source,
    event_type: str,
    decision: Decision | None = None,
    execution: Execution | None = None,
    delay_seconds: int = 0,
) -> CallbackDelivery | None:
    """The event's row, unsaved, for a writer that inserts it with others in one statement
    (then `callback_publish_on_commit`); None when the source has no URL. `delay_seconds`:
    not sent before then (a decision's undo window)."""
    if not source.callback_url:
        return None
    delivery = CallbackDelivery(
        source=source,
        recommendation=recommendation,
        event_type=event_type,
        body={},
        next_attempt_at=timezone.now() + timedelta(seconds=delay_seconds),
    )
    delivery.body = {
        "id": str(delivery.id),
        "type": event_type,
        "created_at": iso(timezone.now()),
        "data": {
            "recommendation_id": str(recommendation.pk),
            "external_id": recommendation.external_id,
            "queue": recommendation.queue.slug,
            "status": recommendation.status,
            "decision": decision_repr(decision),
            "execution": execution_repr(execution),
        },
    }
    return delivery


def callback_publish_on_commit(delivery: CallbackDelivery, delay_seconds: int = 0) -> None:
    """Queue the delivery of a written event once the current transaction commits."""
    task_publish_on_commit(
        DELIVER_CALLBACK,
        str(delivery.id),
        what=f"callback {delivery.id}",
        countdown=delay_seconds or None,
    )


def callback_deliver(*, delivery_id: DeliveryId) -> str:
    """Deliver one pending event. Claims it with a conditional update (a lease on
    next_attempt_at, longer than the request's deadline), so two workers never send it at
    once. Never sent unsigned: a source whose signing_secret_env cannot sign (see
    lib/signing.py) gets nothing and the event ends dead, saying why. Returns the new status."""
    now = timezone.now()
    claimed = CallbackDelivery.objects.filter(
        pk=delivery_id, status="pending", next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=_LEASE_SECONDS))
    if claimed != 1:
        return "skipped"
    deadline = time.monotonic() + _DEADLINE_SECONDS
    delivery = CallbackDelivery.objects.select_related("source").get(pk=delivery_id)
    source = delivery.source
    problem = signing.signing_secret_problem(source.signing_secret_env)
    if problem:
        result = ActionResult(ok=False, error=f"not sent: {problem}")
    else:
        result = post_signed(
            source.callback_url,
            delivery.body,
            secret=os.environ[source.signing_secret_env],
            deadline=deadline,
            headers={
                "X-ReviewQueue-Event": delivery.event_type,
                "X-ReviewQueue-Event-Id": str(delivery.pk),
            },
            message_id=str(delivery.pk),
        )
    with transaction.atomic():
        if result.ok:
            delivery.status, delivery.delivered_at, delivery.last_error = (
                "delivered",
                timezone.now(),
                "",
            )
        elif result.transient and delivery.attempts < settings.REVIEWQUEUE_CALLBACK_MAX_ATTEMPTS:
            delay = retry_delay(delivery.attempts, result.retry_after)
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=delay)
            delivery.last_error = result.error
        else:
            delivery.status, delivery.last_error = "dead", result.error
        delivery.save(update_fields=["status", "delivered_at", "last_error", "next_attempt_at"])
    return delivery.status


def callbacks_due(*, limit: int = 500) -> list[Any]:
    now = timezone.now()
    return list(
        CallbackDelivery.objects.filter(
            status="pending", next_attempt_at__lte=now - timedelta(seconds=5)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
