"""Crashes and outages lose nothing: kill -9 the worker mid-run; stop Redis while approving."""

import os
import subprocess
import time
from collections import defaultdict

import pytest
from django.db.models import Count

from reviewqueue.models import Execution, Queue
from reviewqueue.services.ingest import recommendation_ingest_batch
from reviewqueue.tasks import outbox_sweep
from tests.conftest import item
from tests.tasks.test_execution import approve, wired  # noqa: F401 - fixture


def wait_all_succeeded(count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Execution.objects.filter(status="succeeded").count() == count:
            return
        outbox_sweep()  # what beat does every 10 s
        time.sleep(0.3)
    states = dict(Execution.objects.values_list("status").annotate(n=Count("id")))
    raise AssertionError(f"not all executed: {states}")


def test_kill_9_mid_run_loses_nothing_and_never_mixes_keys(wired, sink, start_worker, capsys):  # noqa: F811
    Queue.objects.filter(pk=wired.queue.pk).update(stage="supervised")
    sink.delay = 0.01
    first = start_worker(pool="prefork", concurrency=2)
    recommendation_ingest_batch(
        source=wired.source,
        items=[item(external_id=f"k-{i}", risk_score=0.05, confidence=0.99) for i in range(200)],
    )
    sink.wait_for("/actions/refund", 40, timeout=30)
    first.kill_9()
    done_at_kill = len(sink.to("/actions/refund"))
    start_worker(pool="prefork", concurrency=2)
    wait_all_succeeded(200)
    keys_by_rec = defaultdict(set)
    per_key = defaultdict(int)
    for request in sink.to("/actions/refund"):
        keys_by_rec[request.json()["recommendation_id"]].add(request.headers["Idempotency-Key"])
        per_key[request.headers["Idempotency-Key"]] += 1
    assert len(keys_by_rec) == 200  # every action reached the sink
    assert all(keys == {f"rq-{rec_id}"} for rec_id, keys in keys_by_rec.items())
    redeliveries = sum(n - 1 for n in per_key.values())
    with capsys.disabled():
        print(
            f"\n[kill -9] {done_at_kill} deliveries before the kill; {redeliveries} same-key redeliveries in 200 actions"
        )


@pytest.mark.skipif(
    not os.environ.get("REDIS_PORT"), reason="needs the Redis that scripts/test starts"
)
def test_redis_down_while_approving_loses_nothing(wired, sink, start_worker):  # noqa: F811
    port, workdir = os.environ["REDIS_PORT"], os.environ["REDIS_TMP"]
    start_worker()
    subprocess.run(
        ["redis-cli", "-p", port, "shutdown", "nosave"], check=False, capture_output=True
    )
    try:
        started = time.monotonic()
        recs = [approve(wired, external_id=f"down-{i}") for i in range(100)]
        elapsed = time.monotonic() - started
        assert Execution.objects.filter(status="pending").count() == 100
        assert elapsed < 30, f"approving during the outage took {elapsed:.1f}s"
    finally:
        subprocess.run(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                port,
                "--daemonize",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--pidfile",
                f"{workdir}/redis.pid",
                "--logfile",
                f"{workdir}/redis.log",
                "--dir",
                workdir,
            ],
            check=True,
        )
    wait_all_succeeded(100, timeout=90)
    assert {r.json()["recommendation_id"] for r in sink.to("/actions/refund")} == {
        str(r.pk) for r in recs
    }
