"""The breaker and the stage apply from the very next item, in every web process (issue 15 #1).

A real gunicorn (2 workers, each its own process with its own per-process targets
cache, made 10 minutes long here so that only a fresh read can pass) serves the test
database. Both workers route items while the queue is supervised; then the breaker trips
(from real failed executions) in this process, and every item posted afterwards, on fresh
connections to either worker, is routed to review. The same after a resume and a stage move.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.utils import timezone

from reviewqueue.models import Execution, Queue
from reviewqueue.services.breaker import breaker_evaluate, breaker_resume
from reviewqueue.services.stages import stage_change
from reviewqueue.states import ExecutionStatus
from tests.conftest import World, item
from tests.gunicorn import gunicorn_running
from tests.tasks.conftest import _test_database_url

pytestmark = pytest.mark.django_db(transaction=True)  # gunicorn must see the world's rows


@pytest.fixture
def server(world: World, tmp_path) -> Iterator[str]:
    env = {
        "DATABASE_URL": _test_database_url(),
        "REVIEWQUEUE_INGEST_RATE": "1000000/m",
        # Far longer than the test: a cached breaker or stage would show.
        "REVIEWQUEUE_CONFIG_CACHE_SECONDS": "600",
    }
    with gunicorn_running(tmp_path / "gunicorn.log", env, workers=2, threads=1) as running:
        yield running.url


def _post_many(url: str, key: str, prefix: str, count: int = 12) -> list[dict]:
    """`count` low-risk, confident items, each on its own connection, 4 at a time: both
    workers answer some of them."""

    def one(n: int) -> dict:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as http:
            body = item(external_id=f"{prefix}-{n}", risk_score=0.05, confidence=0.99)
            response = http.post("/api/v1/recommendations", json=body, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def test_a_trip_routes_the_very_next_item_to_review_in_every_web_process(world, server):
    Queue.objects.filter(pk=world.queue.pk).update(
        stage="supervised", breaker_window=10, breaker_max_failure_rate=0.2
    )
    before = _post_many(server, world.key, "before")
    assert {r["route"] for r in before} == {"auto"}  # both workers now hold their caches

    # Ten of those auto-executions die at the target: the breaker trips here, in the test's
    # process, while gunicorn's workers keep serving.
    Execution.objects.filter(recommendation__queue=world.queue).update(
        status=ExecutionStatus.DEAD, finished_at=timezone.now()
    )
    assert breaker_evaluate(queue=Queue.objects.get(pk=world.queue.pk))

    after = _post_many(server, world.key, "after")
    assert {r["route"] for r in after} == {"review"}
    assert {r["status"] for r in after} == {"pending"}


def test_a_resume_and_a_stage_move_apply_from_the_next_item_in_every_web_process(
    world, people, server
):
    Queue.objects.filter(pk=world.queue.pk).update(
        stage="autonomous", breaker_tripped_at=timezone.now(), breaker_reason="test"
    )
    assert {r["route"] for r in _post_many(server, world.key, "tripped")} == {"review"}

    admin = people.admin
    breaker_resume(queue=Queue.objects.get(pk=world.queue.pk), user=admin, comment="fixed")
    assert {r["route"] for r in _post_many(server, world.key, "resumed")} == {"auto"}

    stage_change(
        queue=Queue.objects.get(pk=world.queue.pk), to_stage="approval", user=admin, comment="x"
    )
    assert {r["route"] for r in _post_many(server, world.key, "demoted")} == {"review"}
