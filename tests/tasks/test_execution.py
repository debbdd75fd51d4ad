"""Approved actions are executed by a real Celery worker, exactly once per key, signed."""

import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from reviewqueue_client.signatures import standard_webhooks_secret
from standardwebhooks import Webhook

from reviewqueue.lib import signing
from reviewqueue.models import (
    ActionType,
    AuditEvent,
    Execution,
    ExecutionAttempt,
    Queue,
    Recommendation,
)
from reviewqueue.services.execution import execution_retry, execution_run, executions_due
from reviewqueue.services.ingest import recommendation_ingest, recommendation_ingest_batch
from reviewqueue.services.review import recommendation_claim, recommendation_decide
from reviewqueue.tasks import outbox_sweep
from tests.conftest import item
from tests.tasks.conftest import SECRET


@pytest.fixture
def wired(world, people, sink, monkeypatch, settings):
    """refunds: webhook executor to the sink; refund-bot: callbacks to the sink."""
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = [f"127.0.0.1:{sink.port}"]
    monkeypatch.setenv("SINK_SECRET", SECRET)
    ActionType.objects.filter(pk=world.action_type.pk).update(
        executor="webhook",
        url=f"{sink.url}/actions/refund",
        signing_secret_env="SINK_SECRET",
        timeout_seconds=2,
        max_attempts=4,
    )
    world.source.callback_url = f"{sink.url}/callbacks"
    world.source.signing_secret_env = "SINK_SECRET"
    world.source.save()
    world.reviewer = people.reviewer
    return world


def approve(world, **overrides) -> Recommendation:
    rec, _ = recommendation_ingest(source=world.source, data=item(**overrides))
    assert recommendation_claim(user=world.reviewer, queue=world.queue).pk == rec.pk
    recommendation_decide(user=world.reviewer, recommendation_id=rec.pk, outcome="approve")
    return rec


def wait_status(rec, *statuses, timeout=20.0) -> Execution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = Execution.objects.get(recommendation=rec)
        if execution.status in statuses:
            return execution
        time.sleep(0.05)
    raise AssertionError(f"execution stayed {execution.status}: {execution.last_error}")


def test_approve_sends_exactly_one_signed_request_with_the_key(wired, sink, start_worker):
    start_worker()
    rec = approve(wired)
    execution = wait_status(rec, "succeeded")
    (request,) = sink.wait_for("/actions/refund", 1)
    time.sleep(0.3)
    assert len(sink.to("/actions/refund")) == 1
    assert request.headers["Idempotency-Key"] == f"rq-{rec.pk}" == execution.idempotency_key
    assert signing.verify(SECRET, request.body, request.headers["X-ReviewQueue-Signature"])
    # Standard Webhooks too, verified by its own library; the id is the idempotency key.
    assert request.headers["webhook-id"] == execution.idempotency_key
    Webhook(standard_webhooks_secret(SECRET)).verify(request.body, dict(request.headers))
    assert request.json() == {
        "recommendation_id": str(rec.pk),
        "action_type": "refund.issue",
        "payload": rec.payload,
    }
    assert execution.attempts == 1
    assert AuditEvent.objects.filter(recommendation=rec, action="execution.succeeded").exists()
    events = sink.wait_for("/callbacks", 2)
    assert sorted(e.json()["type"] for e in events) == ["decision.made", "execution.succeeded"]
    made = next(e.json() for e in events if e.json()["type"] == "decision.made")
    assert made["data"]["status"] == "decided" and made["data"]["decision"]["outcome"] == "approve"
    for event in events:
        assert signing.verify(SECRET, event.body, event.headers["X-ReviewQueue-Signature"])
        assert event.json()["id"] == event.headers["X-ReviewQueue-Event-Id"]
        assert event.headers["webhook-id"] == event.headers["X-ReviewQueue-Event-Id"]
        Webhook(standard_webhooks_secret(SECRET)).verify(event.body, dict(event.headers))
        assert event.json()["data"]["recommendation_id"] == str(rec.pk)


def test_a_500_is_retried_and_then_succeeds(wired, sink, start_worker):
    sink.answer(500)
    start_worker()
    rec = approve(wired)
    execution = wait_status(rec, "succeeded")
    requests = sink.wait_for("/actions/refund", 2)
    assert {r.headers["Idempotency-Key"] for r in requests} == {f"rq-{rec.pk}"}
    assert execution.attempts == 2
    outcomes = list(
        ExecutionAttempt.objects.filter(execution=execution)
        .order_by("number")
        .values_list("outcome", "http_status")
    )
    assert outcomes == [("retry", 500), ("succeeded", 200)]


def test_429_honours_retry_after(wired, sink, start_worker):
    sink.answer(429, headers={"Retry-After": "1"})
    start_worker()
    rec = approve(wired)
    wait_status(rec, "succeeded")
    sink.wait_for("/actions/refund", 2)
    attempts = ExecutionAttempt.objects.filter(execution__recommendation=rec).order_by("number")
    gap = (attempts[1].started_at - attempts[0].finished_at).total_seconds()
    assert gap >= 0.9


def test_a_400_is_dead_visible_and_an_admin_retry_succeeds(
    wired, people, sink, start_worker, client
):
    sink.answer(400)
    start_worker()
    rec = approve(wired)
    execution = wait_status(rec, "dead")
    assert "HTTP 400" in execution.last_error and execution.attempts == 1
    assert [e.json()["type"] for e in sink.wait_for("/callbacks", 2)][-1] == "execution.dead"
    body = wired.client().get(f"/api/v1/recommendations/{rec.pk}").json()
    assert body["execution"]["status"] == "dead" and "HTTP 400" in body["execution"]["last_error"]
    execution_retry(execution_id=execution.pk, user=people.admin)
    execution = wait_status(rec, "succeeded")
    assert execution.attempts == 2
    assert AuditEvent.objects.filter(action="execution.retry_requested", actor_label="ada").exists()


def test_a_tampered_payload_is_refused_loudly(wired, sink, caplog):
    rec = approve(wired)
    execution = Execution.objects.get(recommendation=rec)
    Execution.objects.filter(pk=execution.pk).update(payload={"order_id": "A-1", "amount": 4000})
    assert execution_run(execution_id=execution.pk) == "refused"
    assert sink.to("/actions/refund") == []
    assert "REFUSED" in caplog.text
    execution.refresh_from_db()
    assert "does not match the approved hash" in execution.last_error
    assert AuditEvent.objects.filter(recommendation=rec, action="execution.refused").exists()


def test_shadow_items_never_execute_even_through_the_sweep(wired, sink):
    Queue.objects.filter(pk=wired.queue.pk).update(stage="shadow")
    rec, _ = recommendation_ingest(source=wired.source, data=item())
    assert rec.status == "shadow"
    outbox_sweep()
    assert not Execution.objects.exists() and sink.to("/actions/refund") == []


def test_the_breaker_trips_demotes_and_an_admin_resumes(wired, people, sink):
    from reviewqueue.services.breaker import breaker_resume

    Queue.objects.filter(pk=wired.queue.pk).update(
        stage="supervised", breaker_window=10, breaker_max_failure_rate=0.2
    )
    sink.default = (400, {})
    results = recommendation_ingest_batch(
        source=wired.source,
        items=[item(external_id=f"auto-{i}", risk_score=0.1, confidence=0.99) for i in range(10)],
    )
    assert {r.route for r in results} == {"auto"}
    for execution in Execution.objects.all():
        execution_run(execution_id=execution.pk)
    queue = Queue.objects.get(pk=wired.queue.pk)
    assert queue.breaker_tripped_at is not None and "100%" in queue.breaker_reason
    assert AuditEvent.objects.filter(action="breaker.tripped").count() == 1
    demoted, _ = recommendation_ingest(
        source=wired.source, data=item(external_id="after", risk_score=0.1, confidence=0.99)
    )
    assert demoted.route == "review"
    breaker_resume(queue=queue, user=people.admin, comment="target fixed")
    resumed, _ = recommendation_ingest(
        source=wired.source, data=item(external_id="resumed", risk_score=0.1, confidence=0.99)
    )
    assert resumed.route == "auto"
    assert AuditEvent.objects.get(action="breaker.resumed").data["comment"] == "target fixed"


def test_the_finish_audits_in_its_statement_and_the_breaker_after_it_and_the_chain_verifies(
    wired, sink
):
    """The finish writes its event inside its one statement (the audit writer's
    audit_insert_values), chained by the database like any other; the breaker runs after
    the finish committed, so a trip is audited after the execution that caused it."""
    Queue.objects.filter(pk=wired.queue.pk).update(
        stage="supervised", breaker_window=10, breaker_max_failure_rate=0.2
    )
    sink.default = (400, {})
    recommendation_ingest_batch(
        source=wired.source,
        items=[item(external_id=f"auto-{i}", risk_score=0.1, confidence=0.99) for i in range(10)],
    )
    for execution in Execution.objects.order_by("pk"):
        execution_run(execution_id=execution.pk)
    actions = list(
        AuditEvent.objects.filter(queue=wired.queue)
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions.count("execution.dead") == 10 and actions.count("breaker.tripped") == 1
    assert actions.index("breaker.tripped") > len(actions) - 1 - actions[::-1].index(
        "execution.dead"
    )
    last = Execution.objects.order_by("pk").last()
    event = AuditEvent.objects.get(
        recommendation_id=last.recommendation_id, action="execution.dead"
    )
    assert (event.actor_kind, event.actor_label, event.queue_id) == (
        "system",
        "worker",
        wired.queue.pk,
    )
    assert event.data == {
        "attempt": 1,
        "http_status": 400,
        "error": "HTTP 400 Bad Request",
        "retry_in_seconds": None,
    }
    out = StringIO()
    call_command("verify_audit", stdout=out)  # raises CommandError on a broken chain
    assert "ok" in out.getvalue()


def test_retry_of_a_live_execution_is_refused(wired, people):
    rec = approve(wired)
    admin = people.admin
    from reviewqueue.exceptions import IllegalMove

    with pytest.raises(IllegalMove):
        execution_retry(execution_id=Execution.objects.get(recommendation=rec).pk, user=admin)


def test_time_is_recorded_on_each_attempt(wired, sink):
    rec = approve(wired)
    execution_run(execution_id=Execution.objects.get(recommendation=rec).pk)
    attempt = ExecutionAttempt.objects.get(execution__recommendation=rec)
    assert attempt.finished_at and attempt.finished_at <= timezone.now()


def explode(request):
    return 1 / 0


def unreachable(request):
    raise ConnectionResetError("the target's network went away")


@pytest.fixture
def raising_executors(wired, settings):
    settings.REVIEWQUEUE_EXECUTORS = {
        "explode": "tests.tasks.test_execution.explode",
        "unreachable": "tests.tasks.test_execution.unreachable",
    }
    return wired


def test_an_executor_that_raises_finishes_its_attempt_and_the_execution_is_dead(
    raising_executors,
):
    """Issue 14 #2: an exception in the worker used to leave the attempt open and the
    execution running, so the sweep ran the action again and again."""
    ActionType.objects.filter(pk=raising_executors.action_type.pk).update(executor="explode")
    rec = approve(raising_executors)
    execution = Execution.objects.get(recommendation=rec)
    assert execution_run(execution_id=execution.pk) == "dead"
    attempt = ExecutionAttempt.objects.get(execution=execution)
    assert attempt.finished_at is not None and attempt.outcome == "dead"
    assert attempt.error == "the executor raised ZeroDivisionError"
    assert "division by zero" in attempt.detail  # the traceback, for admins
    execution.refresh_from_db()
    assert execution.last_error == "the executor raised ZeroDivisionError"
    assert execution.pk not in executions_due()  # nothing left for the sweep to run again
    assert execution_run(execution_id=execution.pk) is None
    assert AuditEvent.objects.filter(recommendation=rec, action="execution.dead").exists()


def test_an_executor_that_raises_a_network_error_is_retried(raising_executors):
    ActionType.objects.filter(pk=raising_executors.action_type.pk).update(executor="unreachable")
    rec = approve(raising_executors)
    execution = Execution.objects.get(recommendation=rec)
    assert execution_run(execution_id=execution.pk) == "retrying"
    attempt = ExecutionAttempt.objects.get(execution=execution)
    assert attempt.finished_at is not None and attempt.outcome == "retry"
    assert attempt.error == "the executor raised ConnectionResetError"


def test_a_failing_breaker_never_undoes_the_record_of_a_sent_action(wired, sink, monkeypatch):
    """Auto-executed items evaluate the breaker after the target answered; if that raises
    (as `breaker_window = 0` once did), the success is recorded all the same."""
    import reviewqueue.services.execution as service

    def broken_breaker(*, queue):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(service, "breaker_evaluate", broken_breaker)
    Queue.objects.filter(pk=wired.queue.pk).update(stage="supervised")
    (result,) = recommendation_ingest_batch(
        source=wired.source, items=[item(external_id="auto-1", risk_score=0.1, confidence=0.99)]
    )
    assert result.route == "auto"
    execution = Execution.objects.get(recommendation_id=result.recommendation_id)
    assert execution_run(execution_id=execution.pk) == "succeeded"
    assert len(sink.to("/actions/refund")) == 1
    attempt = ExecutionAttempt.objects.get(execution=execution)
    assert attempt.finished_at is not None and attempt.outcome == "succeeded"
