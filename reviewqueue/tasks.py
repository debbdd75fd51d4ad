"""Celery entry points: ids in, one service call, a retry policy. Nothing else."""

from celery import shared_task

from reviewqueue.services.review import leases_return_expired


@shared_task(name="reviewqueue.leases_sweep", soft_time_limit=60, time_limit=90)
def leases_sweep() -> int:
    """Return items whose review lease ran out (beat, every 30 s)."""
    return leases_return_expired()
