"""The Django admin: configuration editable, recommendations and audit read-only."""

from reviewqueue.models import ApiKey, AuditEvent
from tests.api.test_ingest import post
from tests.conftest import item
from tests.factories import UserFactory


def admin_client(client):
    admin = UserFactory(username="root", role="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_admin_lists_recommendations_read_only(client, world):
    rec_id = post(world.client(), item()).json()["id"]
    admin_client(client)
    listing = client.get("/admin/reviewqueue/recommendation/")
    assert listing.status_code == 200 and b"ticket-8812:refund" in listing.content
    detail = client.get(f"/admin/reviewqueue/recommendation/{rec_id}/change/")
    assert detail.status_code == 200 and b"Save" not in detail.content
    assert client.get("/admin/reviewqueue/recommendation/add/").status_code == 403


def test_admin_creates_a_source_key_and_shows_it_once(client, world):
    admin_client(client)
    before = ApiKey.objects.filter(source=world.source).count()
    response = client.post(
        "/admin/reviewqueue/source/",
        {"action": "create_key", "_selected_action": [world.source.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert ApiKey.objects.filter(source=world.source).count() == before + 1
    text = response.content.decode()
    plain = text.split("it is not shown again): ")[1].split("<")[0].strip()
    assert post(world.client(key=plain), item()).status_code == 201
    assert AuditEvent.objects.filter(action="api_key.created", actor_label="root").exists()


def test_admin_is_closed_to_reviewers(client, world):
    client.force_login(UserFactory(username="bob"))
    response = client.get("/admin/reviewqueue/recommendation/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_admin_retries_a_dead_execution_and_resumes_a_breaker(client, world):
    from django.utils import timezone

    from reviewqueue.models import Execution, Queue

    world.queue.stage = "supervised"
    world.queue.breaker_tripped_at = timezone.now()
    world.queue.breaker_reason = "too many failures"
    world.queue.save()
    admin_client(client)
    client.post(
        "/admin/reviewqueue/queue/",
        {"action": "resume_breaker", "_selected_action": [world.queue.pk]},
    )
    assert Queue.objects.get(pk=world.queue.pk).breaker_tripped_at is None
    assert AuditEvent.objects.filter(action="breaker.resumed", actor_label="root").exists()
    Queue.objects.filter(pk=world.queue.pk).update(stage="supervised")
    rec_id = post(world.client(), item(risk_score=0.1, confidence=0.99)).json()["id"]
    execution = Execution.objects.get(recommendation_id=rec_id)
    Execution.objects.filter(pk=execution.pk).update(
        status="dead", attempts=1, last_error="HTTP 400"
    )
    client.post(
        "/admin/reviewqueue/execution/", {"action": "retry", "_selected_action": [execution.pk]}
    )
    execution.refresh_from_db()
    assert execution.status == "pending" and execution.max_attempts > 8
    assert AuditEvent.objects.filter(
        action="execution.retry_requested", actor_label="root"
    ).exists()
