"""Resuming a tripped breaker starts a fresh window (issue 15 #2): the admin resumes, retries
the dead executions with a real worker, and the old failures do not trip it again."""

import time

import pytest

from reviewqueue.models import AuditEvent, Execution, Queue, StageChange
from reviewqueue.services.breaker import breaker_resume
from reviewqueue.services.execution import execution_retry
from reviewqueue.services.ingest import recommendation_ingest, recommendation_ingest_batch
from tests.conftest import TEST_PASSWORD, item
from tests.tasks.test_execution import wired  # noqa: F401 - the fixture


def _wait(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _queue(world) -> Queue:
    return Queue.objects.get(pk=world.queue.pk)


def test_resume_then_retrying_the_dead_executions_does_not_trip_again(
    wired,  # noqa: F811
    people,
    sink,
    start_worker,
):
    Queue.objects.filter(pk=wired.queue.pk).update(
        stage="supervised", breaker_window=10, breaker_max_failure_rate=0.2
    )
    sink.default = (400, {})  # the target refuses: every execution dies on its first try
    start_worker()
    results = recommendation_ingest_batch(
        source=wired.source,
        items=[item(external_id=f"auto-{i}", risk_score=0.1, confidence=0.99) for i in range(10)],
    )
    assert {r.route for r in results} == {"auto"}
    _wait(lambda: Execution.objects.filter(status="dead").count() == 10, "10 dead executions")
    _wait(lambda: _queue(wired).breaker_tripped_at is not None, "the trip")

    sink.default = (200, {})  # the target is fixed
    admin = people.admin
    breaker_resume(queue=_queue(wired), user=admin, comment="target fixed")
    for execution in Execution.objects.filter(status="dead").order_by("pk"):
        execution_retry(execution_id=execution.pk, user=admin)
    _wait(
        lambda: Execution.objects.filter(status="succeeded").count() == 10,
        "the retried executions to succeed",
    )

    queue = _queue(wired)
    assert queue.breaker_tripped_at is None
    assert AuditEvent.objects.filter(action="breaker.tripped").count() == 1
    fresh, _ = recommendation_ingest(
        source=wired.source, data=item(external_id="after", risk_score=0.1, confidence=0.99)
    )
    assert fresh.route == "auto"


@pytest.mark.django_db
def test_the_breaker_counts_only_failures_after_the_resume():
    from django.utils import timezone

    from reviewqueue.services.breaker import breaker_evaluate
    from tests.conftest import make_people
    from tests.factories import ActionTypeFactory, QueueFactory, SourceFactory

    action_type = ActionTypeFactory()
    queue = QueueFactory(slug="q", action_types=[action_type], stage="supervised")
    Queue.objects.filter(pk=queue.pk).update(breaker_window=10, breaker_tripped_at=timezone.now())
    source = SourceFactory(name="bot", queues=[queue])
    admin = make_people(queue).admin
    recs = [
        recommendation_ingest(
            source=source,
            data=item(queue="q", external_id=f"r-{i}", risk_score=0.1, confidence=0.99),
        )[0]
        for i in range(20)
    ]
    assert {r.route for r in recs} == {"review"}  # tripped: nothing auto-executes
    breaker_resume(queue=Queue.objects.get(pk=queue.pk), user=admin, comment="go")
    assert StageChange.objects.get(kind="resume").comment == "go"
    # Ten failures after the resume are a full window of them: it trips again.
    auto = [
        recommendation_ingest(
            source=source,
            data=item(queue="q", external_id=f"a-{i}", risk_score=0.1, confidence=0.99),
        )[0]
        for i in range(10)
    ]
    assert {r.route for r in auto} == {"auto"}
    Execution.objects.filter(recommendation__in=auto).update(
        status="dead", finished_at=timezone.now()
    )
    assert breaker_evaluate(queue=Queue.objects.get(pk=queue.pk))


@pytest.mark.django_db
class TestResumePage:
    @pytest.fixture
    def tripped(self, world, people):
        from django.utils import timezone

        Queue.objects.filter(pk=world.queue.pk).update(
            stage="supervised", breaker_tripped_at=timezone.now(), breaker_reason="boom"
        )
        return world, people.admin

    def _client(self, client, user):
        assert client.login(username=user.username, password=TEST_PASSWORD)
        return client

    def test_resume_needs_a_comment_and_stays_tripped_without_one(self, client, tripped):
        world, admin = tripped
        response = self._client(client, admin).post("/queues/refunds/resume", {"comment": " "})
        assert response.status_code == 302 and response["Location"] == "/queues/refunds/"
        assert _queue(world).breaker_tripped_at is not None
        page = client.get(response["Location"])
        assert "Say why auto-execution may resume." in page.content.decode()

    def test_resume_with_a_comment_returns_to_the_queue_page(self, client, tripped):
        world, admin = tripped
        response = self._client(client, admin).post(
            "/queues/refunds/resume", {"comment": "target fixed"}
        )
        assert response.status_code == 302 and response["Location"] == "/queues/refunds/"
        assert _queue(world).breaker_tripped_at is None
        event = AuditEvent.objects.get(action="breaker.resumed")
        assert event.data["comment"] == "target fixed"

    def test_a_reviewer_may_not_resume(self, client, tripped, people):
        world, _ = tripped
        response = self._client(client, people.reviewer).post(
            "/queues/refunds/resume", {"comment": "please"}
        )
        assert response.status_code == 403
        assert _queue(world).breaker_tripped_at is not None
