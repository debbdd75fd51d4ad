"""A task only bench_execution.py's workers know: started with
`celery -A config worker --include tests.benchmarks.worker_tasks`.

`bench.empty` does nothing but count itself (one Redis INCR, so the benchmark can tell when
the workers have run them all; the first one also notes the time it started): the baseline
of what a worker costs per task. It takes the
app's task settings (acks_late, results ignored), as reviewqueue.execute_action does.
"""

import os
import time

import redis
from celery import shared_task

COUNTER = "bench:empty:done"
FIRST = "bench:empty:first"  # Unix time the first task of a run started
_client: redis.Redis | None = None


@shared_task(name="bench.empty")
def empty() -> None:
    global _client
    started = time.time()
    if _client is None:
        _client = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    if _client.incr(COUNTER) == 1:
        _client.set(FIRST, repr(started))
