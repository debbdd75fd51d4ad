"""Logs and metrics: JSON log lines with request and recommendation ids, and GET /metrics
(hidden without a token, counters from the services, gauges from the database)."""

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import structlog
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from config.logging import log_format, logging_config
from reviewqueue.models import Queue, Recommendation
from reviewqueue.observability import multiproc
from tests.api.test_ingest import assert_problem, post
from tests.api.test_review import as_user, claim, decide
from tests.conftest import item
from tests.metrics_dir import private_metrics_dir

METRICS_DIR = private_metrics_dir()  # before any test counts (see tests/metrics_dir.py)
TOKEN = "metrics-token-for-tests"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# --- logs ---------------------------------------------------------------------------------


@pytest.fixture
def json_logs(monkeypatch) -> Iterator[Callable[[], list[dict]]]:
    """Every log line of the test, rendered by the production JSON formatter."""
    monkeypatch.setenv("REVIEWQUEUE_LOG_FORMAT", "json")
    spec = logging_config(debug=False)["formatters"]["structured"]
    formatter = spec["()"](
        processors=spec["processors"], foreign_pre_chain=spec["foreign_pre_chain"]
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_an_ingest_request_logs_one_json_line_with_its_request_id_and_item(world, json_logs):
    response = post(world.client(), item())
    assert response.status_code == 201
    request_id = response["X-Request-ID"]
    uuid.UUID(request_id)  # made up for a caller that sent none
    lines = [line for line in json_logs() if line.get("request_id") == request_id]
    assert [line["event"] for line in lines] == ["request_finished"]  # one line, not two
    (line,) = lines
    assert line["recommendation_id"] == response.json()["id"]
    assert line["code"] == 201 and line["request"] == "POST /api/v1/recommendations"
    assert line["level"] == "info" and line["logger"] == "django_structlog.middlewares.request"
    assert line["timestamp"].endswith("Z")
    assert abs(timezone.datetime.fromisoformat(line["timestamp"]) - timezone.now()) < timedelta(
        seconds=30
    )


def test_a_caller_request_id_is_kept_and_echoed(world, json_logs):
    response = post(world.client(), item(), HTTP_X_REQUEST_ID="agent-run-42:step.7")
    assert response["X-Request-ID"] == "agent-run-42:step.7"
    assert any(
        line["event"] == "request_finished" and line["request_id"] == "agent-run-42:step.7"
        for line in json_logs()
    )


@pytest.mark.parametrize("bad", ["two words", "x" * 129, 'quote"brace}', "line\nbreak"])
def test_a_request_id_that_is_not_an_id_is_replaced(world, json_logs, bad):
    response = world.client().get("/api/v1/recommendations", HTTP_X_REQUEST_ID=bad)
    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    assert request_id != bad and uuid.UUID(request_id)
    assert not any(line.get("request_id") == bad for line in json_logs())


def test_item_urls_put_the_recommendation_id_on_the_request_lines(world, json_logs):
    rec_id = post(world.client(), item()).json()["id"]
    response = world.client().get(f"/api/v1/recommendations/{rec_id}")
    assert response.status_code == 200
    (line,) = [line for line in json_logs() if line.get("request_id") == response["X-Request-ID"]]
    assert line["recommendation_id"] == rec_id and line["code"] == 200
    # Not an id: nothing made up, nothing echoed into the logs.
    response = world.client().get("/api/v1/recommendations/not-an-id")
    assert response.status_code == 404
    (line,) = [line for line in json_logs() if line.get("request_id") == response["X-Request-ID"]]
    assert "recommendation_id" not in line and line["level"] == "warning"


def test_nothing_bound_before_a_request_leaks_into_its_lines(world, json_logs):
    structlog.contextvars.bind_contextvars(recommendation_id="stale", task_id="stale")
    try:
        response = world.client().get("/api/v1/recommendations")
    finally:
        structlog.contextvars.clear_contextvars()
    (line,) = [line for line in json_logs() if line.get("request_id") == response["X-Request-ID"]]
    assert "recommendation_id" not in line and "task_id" not in line


def test_standard_library_loggers_come_out_as_json_with_the_context(json_logs):
    structlog.contextvars.bind_contextvars(request_id="req-1", recommendation_id="rec-1")
    try:
        logging.getLogger("reviewqueue.services.outbox").warning("broker down; %s left", "x")
        try:
            api_key = "rq_secret_in_a_local"  # noqa: F841 (must not reach the log)
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("celery.worker").exception("task crashed")
    finally:
        structlog.contextvars.clear_contextvars()
    warning, failure = json_logs()
    assert "rq_secret_in_a_local" not in json.dumps(failure)
    assert warning["event"] == "broker down; x left" and warning["level"] == "warning"
    assert warning["logger"] == "reviewqueue.services.outbox"
    assert warning["request_id"] == "req-1" and warning["recommendation_id"] == "rec-1"
    assert warning["timestamp"].endswith("Z")
    assert failure["level"] == "error" and failure["logger"] == "celery.worker"
    (exception,) = failure["exception"]  # the traceback inside the one line, as data
    assert exception["exc_type"] == "RuntimeError" and exception["exc_value"] == "boom"
    assert exception["frames"] and not any("locals" in frame for frame in exception["frames"])


def test_log_format_is_json_unless_debug_or_chosen(monkeypatch):
    monkeypatch.delenv("REVIEWQUEUE_LOG_FORMAT", raising=False)
    assert log_format(debug=False) == "json" and log_format(debug=True) == "console"
    monkeypatch.setenv("REVIEWQUEUE_LOG_FORMAT", "json")
    assert log_format(debug=True) == "json"
    monkeypatch.setenv("REVIEWQUEUE_LOG_FORMAT", "console")
    assert log_format(debug=False) == "console"


# --- the metrics endpoint -------------------------------------------------------------------


def test_metrics_is_not_found_without_a_configured_token(client, db, settings):
    settings.REVIEWQUEUE_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Token {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_metrics_refuses_a_missing_or_wrong_token(client, db, settings, authorization):
    settings.REVIEWQUEUE_METRICS_TOKEN = TOKEN
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get("/metrics", **extra)
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"reviewqueue_" not in response.content


def test_metrics_answers_the_token_in_prometheus_text_format(client, db, settings):
    settings.REVIEWQUEUE_METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"]
    names = {f.name for f in text_string_to_metric_families(response.content.decode())}
    assert {"reviewqueue_database_up", "reviewqueue_queue_depth", "reviewqueue_breaker_open"} <= (
        names
    )
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def scrape(client) -> Samples:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scraping(client, settings):
    settings.REVIEWQUEUE_METRICS_TOKEN = TOKEN
    return lambda: scrape(client)


def test_ingest_outcomes_are_counted_per_queue(world, scraping, django_capture_on_commit_callbacks):
    before = scraping()
    api = world.client()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            assert post(api, item(external_id=f"ext-{n}")).status_code == 201
        assert post(api, item(external_id="ext-0")).status_code == 200  # identical replay
        assert post(api, item(external_id="ext-0", priority=5)).status_code == 409
        bad = item(external_id="bad", action={"type": "refund.issue", "payload": {}})
        assert post(api, bad).status_code == 400
        assert post(api, item(queue="other")).status_code == 403  # not this source's queue
        assert post(api, item(queue="nope")).status_code == 400
        batch = {"items": [item(external_id="b-1"), item(external_id="b-2"), bad]}
        response = post(api, batch, url="/api/v1/recommendations/batch")
        assert [r["status"] for r in response.json()["results"]] == [201, 201, 400]
    after = scraping()

    def delta(queue: str, outcome: str) -> float:
        labels = {"queue": queue, "outcome": outcome}
        name = "reviewqueue_recommendations_ingested_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("refunds", "created") == 5
    assert delta("refunds", "replayed") == 1
    assert delta("refunds", "conflict") == 1
    assert delta("refunds", "invalid") == 2
    # Queues this source may not post to are never label values (nothing to flood).
    assert delta("(unknown)", "forbidden") == 1 and delta("(unknown)", "invalid") == 1
    assert delta("other", "forbidden") == delta("nope", "invalid") == 0


def test_nothing_is_counted_for_a_change_that_rolls_back(world, scraping):
    before = scraping()
    post(world.client(), item())  # the test's transaction never commits
    after = scraping()
    name = "reviewqueue_recommendations_ingested_total"
    labels = {"queue": "refunds", "outcome": "created"}
    assert value(after, name, **labels) == value(before, name, **labels)


def test_decisions_are_counted_and_timed_and_the_backlog_is_read_from_the_database(
    world, people, scraping, django_capture_on_commit_callbacks
):
    api, person = world.client(), as_user(people.reviewer)
    ids = [post(api, item(external_id=f"ext-{n}")).json()["id"] for n in range(5)]
    Recommendation.objects.filter(pk=ids[4]).update(
        due_at=timezone.now() - timedelta(minutes=1)  # past its SLA
    )
    before = scraping()
    with django_capture_on_commit_callbacks(execute=True):
        for outcome, extra in (("approve", {}), ("reject", {"reason_code": "other"})):
            rec_id = claim(person).json()["id"]
            assert decide(person, rec_id, outcome=outcome, **extra).status_code == 200
    assert claim(person).status_code == 200  # a third one under review
    Queue.objects.filter(pk=world.other_queue.pk).update(
        stage="supervised", breaker_tripped_at=timezone.now()
    )
    after = scraping()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("reviewqueue_decisions_total", queue="refunds", outcome="approve") == 1
    assert delta("reviewqueue_decisions_total", queue="refunds", outcome="reject") == 1
    assert delta("reviewqueue_decision_seconds_count", queue="refunds") == 2
    assert delta("reviewqueue_review_seconds_count", queue="refunds") == 2
    assert delta("reviewqueue_decision_seconds_bucket", queue="refunds", le="+Inf") == 2
    # Gauges: what the database says now.
    assert value(after, "reviewqueue_database_up") == 1
    depth = {
        status: value(after, "reviewqueue_queue_depth", queue="refunds", status=status)
        for status in ("pending", "in_review", "escalated")
    }
    assert depth == {"pending": 2, "in_review": 1, "escalated": 0}
    assert value(after, "reviewqueue_queue_overdue", queue="refunds") == 1
    assert value(after, "reviewqueue_breaker_open", queue="refunds") == 0
    assert value(after, "reviewqueue_breaker_open", queue="other") == 1
    stages = {
        stage: value(after, "reviewqueue_queue_stage", queue="other", stage=stage)
        for stage in ("shadow", "approval", "supervised", "autonomous")
    }
    assert stages == {"shadow": 0, "approval": 0, "supervised": 1, "autonomous": 0}
    # The approval wrote one execution; no worker runs here, so it waits.
    assert value(after, "reviewqueue_executions_outstanding", status="pending") == 1
    assert value(after, "reviewqueue_executions_outstanding", status="running") == 0


# --- counter files shared by processes --------------------------------------------------------

_COUNTING_CHILD = """
import os
from prometheus_client import Counter, Histogram
Counter("reviewqueue_decisions", "d", ["queue", "outcome"]).labels("refunds", "approve").inc({n})
Histogram("reviewqueue_review_seconds", "r", ["queue"], buckets=(1, 10)).labels("refunds").observe(
    {seconds}
)
print(os.getpid())
"""


def exited_child(directory: Path, n: int, seconds: float) -> int:
    """A process that counts into `directory` and exits; its pid."""
    child = subprocess.run(
        [sys.executable, "-c", _COUNTING_CHILD.format(n=n, seconds=seconds)],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def merged() -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for metric in multiproc.merged_metrics()
        for s in metric.samples
    }


@pytest.fixture
def metrics_root(tmp_path, monkeypatch) -> Path:
    """A root of its own (the env vars are restored afterwards)."""
    monkeypatch.setenv(multiproc.ROOT_ENV, str(tmp_path))
    monkeypatch.setenv(multiproc.ENV, str(tmp_path))
    return tmp_path


def test_exited_children_are_folded_into_one_archive_without_losing_a_count(metrics_root):
    group = metrics_root / "web-1"
    group.mkdir()
    os.environ[multiproc.ENV] = str(group)  # as group_start leaves it for the children
    first, second = exited_child(group, 2, 0.5), exited_child(group, 3, 5.0)
    before = merged()
    assert ("reviewqueue_decisions_total", (("outcome", "approve"), ("queue", "refunds")), 5.0) in (
        before
    )
    multiproc.child_exited(first)
    multiproc.child_exited(second)
    assert merged() == before  # same totals, histogram buckets included
    assert sorted(p.name for p in group.iterdir()) == ["counter_archive.db", "histogram_archive.db"]
    third = exited_child(group, 1, 50.0)
    multiproc.child_exited(third)
    after = {(name, labels): value for name, labels, value in merged()}
    queue = (("queue", "refunds"),)
    assert after[("reviewqueue_decisions_total", (("outcome", "approve"), *queue))] == 6
    assert after[("reviewqueue_review_seconds_count", queue)] == 3
    assert after[("reviewqueue_review_seconds_bucket", (("le", "1.0"), *queue))] == 1
    assert after[("reviewqueue_review_seconds_bucket", (("le", "10.0"), *queue))] == 2
    assert after[("reviewqueue_review_seconds_sum", queue)] == 55.5


def test_a_starting_group_removes_only_what_dead_processes_left(metrics_root):
    dead = exited_child(metrics_root, 1, 1.0)  # an ungrouped process, gone
    (metrics_root / f"web-{dead}").mkdir()  # a server that is gone
    live = metrics_root / f"worker-{os.getpid()}"  # a live group (this process)
    live.mkdir()
    (live / "counter_archive.db").write_bytes(b"")
    own = multiproc.group_start("web")
    assert own.parent == metrics_root and own.name.startswith("web-") and own.is_dir()
    names = sorted(p.name for p in metrics_root.iterdir() if not p.name.startswith("."))
    assert names == sorted([live.name, own.name])
    assert (live / "counter_archive.db").exists()
    assert os.environ[multiproc.ENV] == str(own)
    assert os.environ[multiproc.ROOT_ENV] == str(metrics_root)
