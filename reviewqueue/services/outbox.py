"""Hand work to the broker after commit, never at the cost of the request.

The database row is the truth. Publishing happens after the transaction commits; if the
broker is down the error is logged and the periodic sweep publishes the row later, so an
outage delays work and loses none. After a failed publish we skip publishing for a few
seconds so a Redis outage does not add a connect timeout to every request.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from reviewqueue_client.retrying import delay

log = logging.getLogger(__name__)

# The tasks services publish, by the names tasks.py registers them under: services send by
# name and never import tasks.py, whose entry points call the services.
EXECUTE_ACTION = "reviewqueue.execute_action"
DELIVER_CALLBACK = "reviewqueue.deliver_callback"
DELIVER_NOTIFICATIONS = "reviewqueue.deliver_notifications"
_SKIP_AFTER_FAILURE_SECONDS = 5.0
_last_failure = 0.0


def publish(send: Callable[[], Any], what: str) -> bool:
    global _last_failure
    if time.monotonic() - _last_failure < _SKIP_AFTER_FAILURE_SECONDS:
        return False
    try:
        send()
    except Exception as exc:  # kombu/redis raise many types; the sweep recovers from all
        _last_failure = time.monotonic()
        log.warning("broker unavailable; %s left for the sweep: %s", what, exc)
        return False
    return True


def publish_on_commit(send: Callable[[], Any], what: str) -> None:
    transaction.on_commit(lambda: publish(send, what))


def task_send(name: str, *args: Any, countdown: float | None = None) -> None:
    """Send the task `name` with `args` to the broker now (see `task_publish_on_commit`)."""
    current_app.send_task(name, args=args, countdown=countdown)


def task_publish_on_commit(
    name: str, *args: Any, what: str, countdown: float | None = None
) -> None:
    """Send the task `name` with `args` once the current transaction commits; a broker
    outage leaves it to the sweep (`publish`)."""
    publish_on_commit(lambda: task_send(name, *args, countdown=countdown), what)


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before the try after try number `attempt` (1, 2, ...) of an execution or a
    callback: the target's Retry-After when it sent one, else `client/retrying.delay` from
    REVIEWQUEUE_RETRY_BASE_SECONDS, capped at REVIEWQUEUE_RETRY_MAX_SECONDS, with its default
    jitter (a random wait between half the capped delay and all of it)."""
    if retry_after is not None:
        return retry_after
    return delay(
        attempt,
        base=settings.REVIEWQUEUE_RETRY_BASE_SECONDS,
        cap=settings.REVIEWQUEUE_RETRY_MAX_SECONDS,
    )
