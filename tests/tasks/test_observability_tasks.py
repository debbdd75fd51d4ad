"""A real Celery worker logs each task with the request id of the request that queued it and
the recommendation it works on, and its counters show up in the web process's scrape.

Every wait is for a condition (a log line, a status, a count) with conftest's generous
deadline, never a fixed sleep: the worker is slow on a loaded machine."""

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reviewqueue.models import Recommendation
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.review import recommendation_claim, recommendation_decide
from tests.api.test_review import as_user, decide
from tests.conftest import item
from tests.metrics_dir import private_metrics_dir
from tests.tasks.conftest import WAIT_SECONDS, wait_until
from tests.tasks.test_execution import wait_status

METRICS_DIR = private_metrics_dir()  # before any test counts (see tests/metrics_dir.py)
TOKEN = "metrics-token-for-tests"


@pytest.fixture
def json_worker(start_worker, monkeypatch):
    monkeypatch.setenv("REVIEWQUEUE_LOG_FORMAT", "json")  # the worker inherits it
    return start_worker()


def _lines(worker, task_event: str, match: dict[str, str]) -> list[dict]:
    found = []
    for raw in list(worker.log_lines):
        try:
            line = json.loads(raw)
        except ValueError:
            continue  # Celery's start-up banner
        if line.get("event") == task_event and all(line.get(k) == v for k, v in match.items()):
            found.append(line)
    return found


def task_lines(worker, task_event: str, **match: str) -> list[dict]:
    """The worker's JSON log lines with this event and these fields, once there is one."""
    return wait_until(
        lambda: _lines(worker, task_event, match), f"a {task_event} log line with {match}"
    )


def test_the_execution_task_logs_the_approving_request_and_the_item(world, people, json_worker):
    rec, _ = recommendation_ingest(source=world.source, data=item())
    person = as_user(people.reviewer)
    assert person.post("/api/v1/queues/refunds/claim").json()["id"] == str(rec.pk)
    response = decide(person, rec.pk, outcome="approve")
    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    wait_status(rec, "succeeded", timeout=WAIT_SECONDS)

    # (The broker may hold other tests' leftover messages: look for this request's.)
    (started,) = task_lines(json_worker, "task_started", request_id=request_id)
    assert started["task"] == "reviewqueue.execute_action"
    assert started["recommendation_id"] == str(rec.pk)
    assert started["task_id"] and started["level"] == "info"
    assert started["timestamp"].endswith("Z")
    (succeeded,) = task_lines(json_worker, "task_succeeded", task_id=started["task_id"])
    assert succeeded["request_id"] == request_id
    assert succeeded["recommendation_id"] == str(rec.pk)


def test_a_task_queued_outside_any_request_still_names_its_item(world, people, json_worker):
    """Executions queued by a service call (the sweep, a script) carry no request context: the
    service binds the item it loads."""
    rec, _ = recommendation_ingest(source=world.source, data=item())
    recommendation_claim(user=people.reviewer, queue=world.queue)
    recommendation_decide(user=people.reviewer, recommendation_id=rec.pk, outcome="approve")
    wait_status(rec, "succeeded", timeout=WAIT_SECONDS)
    (succeeded,) = task_lines(json_worker, "task_succeeded", recommendation_id=str(rec.pk))
    (started,) = task_lines(json_worker, "task_started", task_id=succeeded["task_id"])
    assert started["task"] == "reviewqueue.execute_action"
    assert "request_id" not in started and "recommendation_id" not in started


def test_the_callback_task_names_its_item(world, people, sink, json_worker):
    world.source.callback_url = f"{sink.url}/callbacks"
    world.source.signing_secret_env = "SINK_SECRET"  # in the worker's environment: never unsigned
    world.source.save()
    rec, _ = recommendation_ingest(source=world.source, data=item())
    recommendation_claim(user=people.reviewer, queue=world.queue)
    recommendation_decide(
        user=people.reviewer, recommendation_id=rec.pk, outcome="reject", reason_code="other"
    )
    sink.wait_for("/callbacks", 1)  # conftest's generous deadline
    (succeeded,) = task_lines(json_worker, "task_succeeded", recommendation_id=str(rec.pk))
    (started,) = task_lines(json_worker, "task_started", task_id=succeeded["task_id"])
    assert started["task"] == "reviewqueue.deliver_callback"


def executions_succeeded(client) -> float:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            if sample.name == "reviewqueue_executions_total" and sample.labels == {
                "queue": "refunds",
                "executor": "noop",
                "outcome": "succeeded",
            }:
                return sample.value
    return 0.0


def test_the_worker_counts_show_up_in_the_web_scrape(
    world, people, client, settings, start_worker, monkeypatch
):
    settings.REVIEWQUEUE_METRICS_TOKEN = TOKEN
    before = executions_succeeded(client)
    start_worker(pool="prefork", concurrency=2)  # counted in the pool's child processes
    recs = []
    for n in range(3):
        rec, _ = recommendation_ingest(source=world.source, data=item(external_id=f"ext-{n}"))
        recommendation_claim(user=people.reviewer, queue=world.queue)
        recommendation_decide(user=people.reviewer, recommendation_id=rec.pk, outcome="approve")
        recs.append(rec)
    for rec in recs:
        wait_status(rec, "succeeded", timeout=WAIT_SECONDS)
    # The children count after their commit: wait for the last one's.
    wait_until(lambda: executions_succeeded(client) - before >= 3, "3 executions in the web scrape")
    assert executions_succeeded(client) - before == 3
    assert Recommendation.objects.filter(execution__status="succeeded").count() == 3
    # The worker group keeps its files in its own directory under the shared root.
    assert any(p.is_dir() and p.name.startswith("worker-") for p in METRICS_DIR.iterdir())
