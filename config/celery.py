import logging
import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import (
    after_task_publish,
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
)
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("reviewqueue")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    "leases-sweep": {"task": "reviewqueue.leases_sweep", "schedule": 30.0},
    "outbox-sweep": {"task": "reviewqueue.outbox_sweep", "schedule": 10.0},
    "sla-sweep": {"task": "reviewqueue.sla_sweep", "schedule": 60.0},
    "metrics-warm": {"task": "reviewqueue.metrics_warm", "schedule": 600.0},
    "anomaly-baselines": {"task": "reviewqueue.anomaly_baselines_refresh", "schedule": 10.0},
    "rate-limits-prune": {"task": "reviewqueue.rate_limits_prune", "schedule": 300.0},
    "sessions-clear": {"task": "reviewqueue.sessions_clear", "schedule": 3600.0},
    "readiness-notify": {"task": "reviewqueue.readiness_notify", "schedule": 600.0},
    "notifications-prune": {"task": "reviewqueue.notifications_prune", "schedule": 3600.0},
    "digests-send": {
        "task": "reviewqueue.digests_send",
        "schedule": crontab(minute=0, hour=int(os.environ.get("REVIEWQUEUE_DIGEST_HOUR", "7"))),
    },
}


class _TaskLogContext(DjangoStructLogInitStep):
    """Each task's log lines carry its task_id and the request_id (and recommendation_id) of
    whatever queued it (django-structlog). The django_structlog app already hands the
    context on when a task is published (DJANGO_STRUCTLOG_CELERY_ENABLED): connected twice,
    every `task_enqueued` line would be logged twice."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        before_task_publish.disconnect(self.receiver.receiver_before_task_publish)
        after_task_publish.disconnect(self.receiver.receiver_after_task_publish)


app.steps["worker"].add(_TaskLogContext)


@setup_logging.connect
def _structured_logging(loglevel: Any = None, **kwargs: Any) -> None:
    """Celery's own lines and the tasks' go through settings.LOGGING (config/logging.py),
    in the same format as the web's, instead of Celery's plain-text set-up."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


@worker_init.connect
def _metrics_group(**kwargs: Any) -> None:
    """This worker and its pool children write their counters in a directory of their own
    (see reviewqueue/observability/multiproc.py)."""
    from reviewqueue.observability.multiproc import group_start

    group_start("worker")


@task_prerun.connect
@task_postrun.connect
def _database_connections(task: Any = None, **kwargs: Any) -> None:
    """Before and after each task, what Django does around each request: close a connection
    that broke or outlived CONN_MAX_AGE, keep a healthy one (settings.CELERY_DB_REUSE_MAX).
    Not for a task run eagerly, inside its caller's transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
