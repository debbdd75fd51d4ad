"""Notifications against real servers (issue 18 #5): an SMTP server in this process
(aiosmtpd) and a real HTTP listener for the chat webhook; the real worker's path; chat
failing and timing out; SMTP down and back; two deliveries racing for the same rows."""

import socket
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from reviewqueue.lib import signing
from reviewqueue.models import Notification, Recommendation
from reviewqueue.services import notify_delivery
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.notify_delivery import notifications_deliver
from reviewqueue.services.review import recommendation_claim, recommendation_escalate
from tests.api.test_review import as_user, claim
from tests.conftest import item
from tests.tasks.conftest import SECRET, free_port, wait_until

BASE = "https://rq.example"


@pytest.fixture
def notify(settings, sink, people, monkeypatch):
    """Chat to the sink, links on BASE, sam (the senior) with an address."""
    settings.REVIEWQUEUE_BASE_URL = BASE
    settings.REVIEWQUEUE_CHAT_WEBHOOK_URL = f"{sink.url}/chat"
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = ["127.0.0.1:*"]
    settings.REVIEWQUEUE_RETRY_BASE_SECONDS = 0.01
    settings.REVIEWQUEUE_RETRY_MAX_SECONDS = 0.02
    monkeypatch.setenv(notify_delivery.CHAT_SECRET_ENV, SECRET)
    people.senior.email = "sam@example.org"
    people.senior.save()
    return people


SMTP_TIMEOUT = 2


def smtp_to(settings, port: int) -> None:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": SMTP_TIMEOUT},
        }
    }


def escalated(world, people, external_id="e-1") -> Recommendation:
    rec, _ = recommendation_ingest(source=world.source, data=item(external_id=external_id))
    recommendation_claim(user=people.reviewer, queue=world.queue)
    return recommendation_escalate(user=people.reviewer, recommendation_id=rec.pk)


def make_due() -> None:
    Notification.objects.filter(status="pending").update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db(transaction=True)
def test_an_escalation_reaches_the_chat_listener_and_the_smtp_server_by_the_real_worker(
    world, notify, sink, smtp_server, start_worker
):
    start_worker(
        extra_env={
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_server.port),
            "REVIEWQUEUE_CHAT_WEBHOOK_URL": f"{sink.url}/chat",
            notify_delivery.CHAT_SECRET_ENV: SECRET,
        }
    )
    rec, _ = recommendation_ingest(source=world.source, data=item())
    reviewer = as_user(notify.reviewer)
    assert claim(reviewer).status_code == 200
    response = reviewer.post(f"/api/v1/recommendations/{rec.pk}/escalate", format="json")
    assert response.status_code == 200
    link = f"{BASE}/recommendations/{rec.pk}/"

    (chat,) = sink.wait_for("/chat", 1)
    assert link in chat.json()["text"] and "escalated" in chat.json()["text"]
    # Signed as every outbound request is: ours and Standard Webhooks'.
    assert signing.verify(SECRET, chat.body, chat.headers[signing.HEADER])
    assert chat.headers["webhook-id"] and chat.headers["webhook-signature"].startswith("v1,")

    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "sam@example.org"
    assert link in mail.get_content()
    wait_until(
        lambda: Notification.objects.filter(status="sent").count() == 2, "both rows marked sent"
    )


@pytest.mark.django_db
def test_chat_answering_500_is_retried_with_backoff_then_dead_with_the_error_in_the_admin(
    world, notify, sink, settings, client
):
    settings.REVIEWQUEUE_NOTIFY_MAX_ATTEMPTS = 3
    settings.REVIEWQUEUE_CHAT_WEBHOOK_URL = f"{sink.url}/chat"
    sink.default = (500, {})
    escalated(world, notify)
    outcomes = []
    for _ in range(3):
        make_due()
        outcomes.append(notifications_deliver(channel="chat", recipient_key="chat"))
    assert outcomes == ["retrying", "retrying", "dead"]
    assert len(sink.to("/chat")) == 3
    row = Notification.objects.get(channel="chat")
    assert row.status == "dead" and row.attempts == 3
    assert row.last_error.startswith("HTTP 500")

    client.force_login(notify.admin)
    page = client.get("/admin/reviewqueue/notification/?status__exact=dead")
    assert page.status_code == 200 and "HTTP 500" in page.content.decode()
    ops = client.get("/executions/dead/").content.decode()
    assert "Notifications: 1 dead, 1 waiting to be sent." in ops  # sam's email waits
    assert "/admin/reviewqueue/notification/?status__exact=dead" in ops


@pytest.mark.django_db
def test_chat_timing_out_is_retried_and_then_delivered(world, notify, sink, monkeypatch):
    monkeypatch.setattr(notify_delivery, "_CHAT_DEADLINE_SECONDS", 0.5)
    sink.delay = 2.0
    escalated(world, notify)
    assert notifications_deliver(channel="chat", recipient_key="chat") == "retrying"
    row = Notification.objects.get(channel="chat")
    assert row.status == "pending" and row.last_error.startswith("timeout")
    sink.delay = 0.0
    make_due()
    assert notifications_deliver(channel="chat", recipient_key="chat") == "sent"
    assert len(sink.wait_for("/chat", 2)) == 2  # the timed-out try reached it, then this one


@pytest.fixture
def silent_smtp():
    """A 'mail server' that accepts connections and never says a word: SMTP hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", free_port()))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


@pytest.mark.django_db
def test_smtp_down_is_retried_nothing_is_lost_and_the_request_is_not_slowed(
    world, notify, settings, silent_smtp, smtp_server
):
    settings.REVIEWQUEUE_CHAT_WEBHOOK_URL = ""
    smtp_to(settings, silent_smtp)
    rec, _ = recommendation_ingest(source=world.source, data=item())
    reviewer = as_user(notify.reviewer)
    assert claim(reviewer).status_code == 200
    started = time.monotonic()
    response = reviewer.post(f"/api/v1/recommendations/{rec.pk}/escalate", format="json")
    assert response.status_code == 200
    assert time.monotonic() - started < SMTP_TIMEOUT  # nothing sent in the request

    started = time.monotonic()
    key = f"user:{notify.senior.pk}"
    assert notifications_deliver(channel="email", recipient_key=key) == "retrying"
    assert time.monotonic() - started >= SMTP_TIMEOUT * 0.9  # it did wait on SMTP
    row = Notification.objects.get()
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error.startswith("SMTP unavailable")

    smtp_to(settings, smtp_server.port)  # the mail server is back
    make_due()
    assert notifications_deliver(channel="email", recipient_key=key) == "sent"
    (mail,) = smtp_server.wait_for(1)
    assert f"{BASE}/recommendations/{rec.pk}/" in mail.get_content()


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_racing_for_the_same_rows_send_one_message(world, notify, sink, monkeypatch):
    # No broker in this test: the two deliveries are started by hand.
    monkeypatch.setattr(
        "reviewqueue.services.notifications.task_publish_on_commit", lambda *a, **k: None
    )
    monkeypatch.setattr(
        "reviewqueue.services.notify_delivery.task_publish_on_commit", lambda *a, **k: None
    )
    for i in range(3):
        escalated(world, notify, external_id=f"race-{i}")
    sink.delay = 0.5  # the first holds its rows while the second tries
    barrier = threading.Barrier(2)
    results: list[str] = []

    def deliver() -> None:
        try:
            barrier.wait()
            results.append(notifications_deliver(channel="chat", recipient_key="chat"))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["nothing", "sent"]
    time.sleep(0.2)
    (only,) = sink.to("/chat")
    assert "3 notifications: 3 items escalated" in only.json()["text"]
    assert Notification.objects.filter(channel="chat", status="sent").count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_loses_no_notification_the_sweep_publishes_it(
    world, notify, sink, start_worker, monkeypatch
):
    from reviewqueue.services import outbox
    from reviewqueue.tasks import outbox_sweep

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    with monkeypatch.context() as down:
        down.setattr(outbox, "task_send", broker_down)
        rec = escalated(world, notify)  # the escalation commits; the publish fails
    assert Notification.objects.filter(status="pending").count() == 2
    monkeypatch.setattr(outbox, "_last_failure", 0.0)  # the broker is back
    start_worker(
        extra_env={
            "REVIEWQUEUE_CHAT_WEBHOOK_URL": f"{sink.url}/chat",
            notify_delivery.CHAT_SECRET_ENV: SECRET,
        }
    )
    Notification.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=10))
    assert outbox_sweep() >= 2  # beat's part: the chat and sam's email
    (chat,) = sink.wait_for("/chat", 1)
    assert f"{BASE}/recommendations/{rec.pk}/" in chat.json()["text"]
    wait_until(
        lambda: Notification.objects.filter(status="sent").count() == 2, "both rows marked sent"
    )
