import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("reviewqueue")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    "leases-sweep": {"task": "reviewqueue.leases_sweep", "schedule": 30.0},
    "outbox-sweep": {"task": "reviewqueue.outbox_sweep", "schedule": 10.0},
    "sla-sweep": {"task": "reviewqueue.sla_sweep", "schedule": 60.0},
    "metrics-warm": {"task": "reviewqueue.metrics_warm", "schedule": 600.0},
}
