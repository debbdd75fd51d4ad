"""Dead executions are visible with a Retry button; a tripped breaker shows a banner that an
admin can resume from."""

import pytest
from django.utils import timezone

from reviewqueue.models import AuditEvent, Execution, Queue
from reviewqueue.services.ingest import recommendation_ingest
from tests.conftest import item
from tests.factories import member


@pytest.fixture
def dead(world):
    Queue.objects.filter(pk=world.queue.pk).update(stage="supervised")
    rec, _ = recommendation_ingest(source=world.source, data=item(risk_score=0.1, confidence=0.99))
    Execution.objects.filter(recommendation=rec).update(
        status="dead",
        attempts=3,
        last_error="HTTP 400: <b>bad order</b>",
        finished_at=timezone.now(),
    )
    return Execution.objects.get(recommendation=rec)


def test_admins_see_dead_executions_and_retry_them(client, dead, people):
    client.force_login(people.admin)
    page = client.get("/executions/dead/")
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        "ticket-8812:refund" in html
        and "&lt;b&gt;bad order&lt;/b&gt;" in html
        and ">Retry<" in html
    )
    response = client.post(f"/executions/{dead.pk}/retry", follow=True)
    assert "Sent back to the workers" in response.content.decode()
    dead.refresh_from_db()
    assert dead.status == "pending"
    assert AuditEvent.objects.filter(action="execution.retry_requested", actor_label="ada").exists()


def test_auditors_see_the_list_without_a_retry_button_and_cannot_retry(client, dead, people):
    client.force_login(people.auditor)
    assert ">Retry<" not in client.get("/executions/dead/").content.decode()
    response = client.post(f"/executions/{dead.pk}/retry", follow=True)
    assert "Only admins may retry" in response.content.decode()
    dead.refresh_from_db()
    assert dead.status == "dead"


def test_reviewers_do_not_get_the_dead_list(client, dead, world, people):
    client.force_login(people.reviewer)
    assert client.get("/executions/dead/").status_code == 404


def test_a_tripped_breaker_shows_a_banner_and_an_admin_resumes(client, world, people):
    Queue.objects.filter(pk=world.queue.pk).update(
        stage="supervised",
        breaker_tripped_at=timezone.now(),
        breaker_reason="Execution failure rate 40%.",
    )
    client.force_login(people.reviewer)
    for url in ("/queues/", "/queues/refunds/review/"):
        html = client.get(url).content.decode()
        assert "Auto-execution stopped on Refunds" in html and "Execution failure rate 40%." in html
        assert "Resume auto-execution" not in html
    assert client.post("/queues/refunds/resume").status_code == 403
    assert Queue.objects.get(pk=world.queue.pk).breaker_tripped_at is not None
    member(people.admin, world.queue, role="senior")  # an admin who also reviews
    client.force_login(people.admin)
    assert "Resume auto-execution" in client.get("/queues/").content.decode()
    client.post("/queues/refunds/resume", {"comment": "the target is fixed"})
    assert Queue.objects.get(pk=world.queue.pk).breaker_tripped_at is None
    assert "Auto-execution stopped" not in client.get("/queues/").content.decode()
    assert AuditEvent.objects.filter(action="breaker.resumed", actor_label="ada").exists()
