"""Celery entry points: ids in, one service call, a retry policy. Nothing else.

Execution retries are scheduled by the service itself (the row's next_attempt_at plus a
countdown publish), not by Celery's retry: the database decides what is due, so a lost
message costs a sweep interval, never an action.
"""

from functools import partial

from celery import shared_task
from django.contrib.sessions.backends.db import SessionStore

from reviewqueue.observability.context import bind_delivery
from reviewqueue.services import (
    anomaly,
    callbacks,
    execution,
    notify_delivery,
    notify_periodic,
    ratelimit,
    sla,
)
from reviewqueue.services.leases import leases_return_expired
from reviewqueue.services.outbox import (
    DELIVER_CALLBACK,
    DELIVER_NOTIFICATIONS,
    EXECUTE_ACTION,
    publish,
)


@shared_task(name=EXECUTE_ACTION, acks_late=True, soft_time_limit=330, time_limit=360)
def execute_action(execution_id: int) -> str | None:
    return execution.execution_run(execution_id=execution_id)


@shared_task(name=DELIVER_CALLBACK, acks_late=True, soft_time_limit=60, time_limit=90)
def deliver_callback(delivery_id: str) -> str:
    bind_delivery(delivery_id)
    return callbacks.callback_deliver(delivery_id=delivery_id)


@shared_task(name=DELIVER_NOTIFICATIONS, acks_late=True, soft_time_limit=150, time_limit=180)
def deliver_notifications(channel: str, recipient_key: str) -> str:
    """Send what is due for one recipient on one channel, as one message."""
    return notify_delivery.notifications_deliver(channel=channel, recipient_key=recipient_key)


@shared_task(name="reviewqueue.outbox_sweep", soft_time_limit=60, time_limit=90)
def outbox_sweep() -> int:
    """Publish executions, callbacks and notifications that are due but were never (or no
    longer) queued: after a broker outage, a lost message or a killed worker."""
    ids = execution.executions_due()
    for pk in ids:
        publish(partial(execute_action.delay, pk), f"execution {pk}")
    deliveries = callbacks.callbacks_due()
    for delivery_id in deliveries:
        publish(partial(deliver_callback.delay, str(delivery_id)), f"callback {delivery_id}")
    groups = notify_delivery.notifications_due()
    for channel, recipient_key in groups:
        publish(
            partial(deliver_notifications.delay, channel, recipient_key),
            f"notifications {channel} {recipient_key}",
        )
    return len(ids) + len(deliveries) + len(groups)


@shared_task(name="reviewqueue.leases_sweep", soft_time_limit=60, time_limit=90)
def leases_sweep() -> int:
    """Return items whose review lease ran out (beat, every 30 s)."""
    return leases_return_expired()


@shared_task(name="reviewqueue.sla_sweep", soft_time_limit=60, time_limit=90)
def sla_sweep() -> dict[str, int]:
    """Overdue flags, SLA escalation and expiry (beat, every 60 s)."""
    result = sla.sla_sweep()
    return {
        "overdue": result.overdue,
        "escalated": result.escalated,
        "expired": result.expired,
        "warned": result.warned,
    }


@shared_task(name="reviewqueue.metrics_warm", soft_time_limit=900, time_limit=960)
def metrics_warm() -> int:
    """Count the reports' default views ahead (beat, every 10 minutes): after the first run
    only newly closed days are counted."""
    from reviewqueue.reporting.warm import metrics_warm as warm

    return warm()


@shared_task(name="reviewqueue.sessions_clear", soft_time_limit=60, time_limit=90)
def sessions_clear() -> None:
    """Delete expired sessions (beat, hourly): sessions are rows in PostgreSQL."""
    SessionStore.clear_expired()


@shared_task(name="reviewqueue.anomaly_baselines_refresh", soft_time_limit=60, time_limit=90)
def anomaly_baselines_refresh() -> int:
    """Recompute the anomaly flags' baselines (beat, every 10 s; services/anomaly.py)."""
    return anomaly.baselines_refresh()


@shared_task(name="reviewqueue.rate_limits_prune", soft_time_limit=60, time_limit=90)
def rate_limits_prune() -> int:
    """Delete rate-limit counters of ended windows (beat, every 5 minutes)."""
    return ratelimit.rate_limits_prune()


@shared_task(name="reviewqueue.readiness_notify", soft_time_limit=300, time_limit=360)
def readiness_notify() -> int:
    """Notify, once per stage, queues whose stage meets every readiness gate (beat, every
    10 minutes)."""
    return notify_periodic.readiness_notify()


@shared_task(name="reviewqueue.digests_send", soft_time_limit=300, time_limit=360)
def digests_send() -> int:
    """The daily digest per reviewer (beat, daily at REVIEWQUEUE_DIGEST_HOUR UTC)."""
    return notify_periodic.digests_send()


@shared_task(name="reviewqueue.notifications_prune", soft_time_limit=60, time_limit=90)
def notifications_prune() -> int:
    """Delete sent notifications older than 30 days (beat, hourly)."""
    return notify_delivery.notifications_prune()
