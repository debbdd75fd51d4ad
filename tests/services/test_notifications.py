"""Notifications (issue 18 #4): who gets which rows, once; one summary for a burst; the
SLA warning once per item; readiness once per stage; the digest. Mail goes to Django's
in-memory outbox here; tests/tasks/test_notifications.py uses real servers."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from reviewqueue.domain.notifications import SUMMARY_LINKS, Part, message_for
from reviewqueue.models import Notification, Recommendation
from reviewqueue.services.assignment import recommendation_assign
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.notifications import (
    notification_preferences_save,
    notify_escalated,
)
from reviewqueue.services.notify_delivery import notifications_deliver
from reviewqueue.services.review import recommendation_claim, recommendation_escalate
from reviewqueue.tasks import digests_send, sla_sweep
from tests.conftest import item

BASE = "https://rq.example"
T0 = datetime(2030, 1, 6, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _notify_settings(settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.REVIEWQUEUE_BASE_URL = BASE
    settings.REVIEWQUEUE_CHAT_WEBHOOK_URL = "http://127.0.0.1:9/chat"
    settings.REVIEWQUEUE_NOTIFY_WINDOW_SECONDS = 60


@pytest.fixture
def sam(people):
    people.senior.email = "sam@example.org"
    people.senior.save()
    return people.senior


def add(world, **overrides) -> Recommendation:
    rec, _ = recommendation_ingest(source=world.source, data=item(**overrides))
    return rec


def escalate(world, people, external_id="e-1") -> Recommendation:
    rec = add(world, external_id=external_id)
    recommendation_claim(user=people.reviewer, queue=world.queue)
    return recommendation_escalate(user=people.reviewer, recommendation_id=rec.pk)


def test_an_escalation_writes_one_email_per_senior_and_one_chat_row(world, people, sam):
    rec = escalate(world, people)
    rows = Notification.objects.order_by("channel")
    assert [(r.channel, r.recipient_key, r.event) for r in rows] == [
        ("chat", "chat", "escalated"),
        ("email", f"user:{sam.pk}", "escalated"),
    ]
    link = f"{BASE}/recommendations/{rec.pk}/"
    assert all(r.link == link and link in r.text for r in rows)


def test_the_same_escalation_is_written_once(world, people, sam):
    rec = escalate(world, people)
    rec.refresh_from_db()
    notify_escalated([rec])  # a second call for the same escalation moment
    assert Notification.objects.count() == 2


def test_a_queue_with_chat_false_sends_no_chat(world, people, sam):
    world.queue.chat = False
    world.queue.save()
    escalate(world, people)
    assert list(Notification.objects.values_list("channel", flat=True)) == ["email"]


def test_a_senior_without_an_email_address_is_skipped_with_one_log_line(world, people, caplog):
    caplog.set_level(logging.INFO, logger="reviewqueue.services.notifications")
    recs = [add(world, external_id=f"x-{i}") for i in range(3)]
    notify_escalated(recs, at=T0)
    assert Notification.objects.filter(channel="email").count() == 0
    lines = [r for r in caplog.records if "no email address" in r.getMessage()]
    assert len(lines) == 1 and "sam" in lines[0].getMessage()


def test_an_assignment_emails_the_assignee_if_they_chose_it(world, people, sam):
    people.reviewer.email = "rita@example.org"
    people.reviewer.save()
    rec = add(world)
    recommendation_assign(user=sam, recommendation_id=rec.pk, assignee="rita")
    row = Notification.objects.get()
    assert (row.event, row.recipient_id) == ("assigned", people.reviewer.pk)
    notification_preferences_save(user=people.reviewer, email_events=["digest"])
    recommendation_assign(user=sam, recommendation_id=rec.pk, assignee=None)
    recommendation_assign(user=sam, recommendation_id=rec.pk, assignee="rita")
    assert Notification.objects.count() == 1  # rita no longer wants assignments by email


def test_a_burst_of_escalations_becomes_one_summary_per_recipient(world, people, sam):
    recs = [add(world, external_id=f"b-{i}") for i in range(60)]
    notify_escalated(recs, at=T0)
    assert notifications_deliver(channel="email", recipient_key=f"user:{sam.pk}") == "sent"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["sam@example.org"]
    assert "60 notifications: 60 items escalated" in message.body
    assert message.body.count(f"{BASE}/recommendations/") == SUMMARY_LINKS
    assert "and 55 more" in message.body
    assert Notification.objects.filter(status="sent", channel="email").count() == 60


def test_what_comes_inside_the_rate_window_waits_and_goes_out_together(world, people, sam):
    key = f"user:{sam.pk}"
    notify_escalated([add(world, external_id="first")], at=T0)
    assert notifications_deliver(channel="email", recipient_key=key) == "sent"
    notify_escalated([add(world, external_id="second")], at=T0)
    notify_escalated([add(world, external_id="third")], at=T0)
    assert notifications_deliver(channel="email", recipient_key=key) == "deferred"
    assert len(mail.outbox) == 1
    # The window ends (as the deferred task's countdown would see it).
    Notification.objects.filter(status="sent").update(sent_at=timezone.now() - timedelta(minutes=2))
    Notification.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    assert notifications_deliver(channel="email", recipient_key=key) == "sent"
    assert len(mail.outbox) == 2 and "2 items escalated" in mail.outbox[1].body


def test_the_sla_warning_goes_out_once_per_item(world, people, sam):
    world.queue.sla_minutes = 60
    world.queue.sla_warning_minutes = 15
    world.queue.save()
    people.reviewer.email = "rita@example.org"
    people.reviewer.save()
    notification_preferences_save(user=people.reviewer, email_events=["sla_warning"])
    with time_machine.travel(T0, tick=False):
        rec = add(world)
    with time_machine.travel(T0 + timedelta(minutes=40), tick=False):
        assert sla_sweep()["warned"] == 0
    with time_machine.travel(T0 + timedelta(minutes=46), tick=False):
        assert sla_sweep()["warned"] == 1
        assert sla_sweep()["warned"] == 0
    rows = Notification.objects.filter(event="sla_warning")
    # rita chose SLA warnings; sam did not (the defaults); and the chat.
    assert sorted(r.recipient_key for r in rows) == ["chat", f"user:{people.reviewer.pk}"]
    assert all(str(rec.pk) in r.link for r in rows)


def test_sla_warning_minutes_zero_warns_nobody(world, people):
    world.queue.sla_minutes = 60
    world.queue.sla_warning_minutes = 0
    world.queue.save()
    with time_machine.travel(T0, tick=False):
        add(world)
    with time_machine.travel(T0 + timedelta(minutes=59), tick=False):
        assert sla_sweep()["warned"] == 0


def test_the_daily_digest_counts_what_waits_once_a_day(world, people, sam):
    add(world, external_id="d-1")
    add(world, external_id="d-2")
    with time_machine.travel(T0, tick=False):
        assert digests_send() == 1  # sam (rita has no address)
        assert digests_send() == 1
    row = Notification.objects.get(event="digest")
    assert row.recipient_id == sam.pk and "2 items wait for you" in row.text
    assert f"{BASE}/queues/refunds/items/" in row.text


def test_a_summary_names_counts_per_event():
    parts = [Part("escalated", f"s{i}", "t", f"https://x/{i}") for i in range(2)]
    parts.append(Part("assigned", "a", "t", "https://x/a"))
    message = message_for(parts)
    assert message.subject == "Review Queue: 1 item assigned, 2 items escalated"
    assert message_for(parts[:1]).text == "t"


def test_a_breaker_trip_tells_the_leads_who_chose_it_and_the_chat(world, people, sam):
    from reviewqueue.services.breaker import _trip

    people.admin.email = "ada@example.org"
    people.admin.save()
    notification_preferences_save(user=people.admin, email_events=["breaker"])
    assert _trip(queue=world.queue, reason="failure rate 60% over 10", data={})
    assert not _trip(queue=world.queue, reason="again", data={})  # tripped once
    rows = Notification.objects.filter(event="breaker")
    # ada chose breaker trips; sam (a lead too) kept the defaults.
    assert sorted(r.recipient_key for r in rows) == ["chat", f"user:{people.admin.pk}"]
    assert all(r.link == f"{BASE}/queues/refunds/" for r in rows)
    assert "failure rate 60% over 10" in rows[0].text


def test_a_ready_stage_is_announced_once_per_stage(world, people, sam, monkeypatch):
    from reviewqueue.domain.readiness import Gate, Readiness
    from reviewqueue.models import StageChange
    from reviewqueue.tasks import readiness_notify

    ready = Readiness(stage="approval", next_stage="supervised", gates=[Gate("g", "g", "met", "")])
    monkeypatch.setattr(
        "reviewqueue.reporting.readiness.readiness_for",
        lambda *, queue, now=None: ready if queue.slug == "refunds" else Readiness("x", None, []),
    )
    assert readiness_notify() == 1
    assert readiness_notify() == 1
    assert Notification.objects.filter(event="readiness", channel="chat").count() == 1
    StageChange.objects.create(
        queue=world.queue, from_stage="supervised", to_stage="approval", kind="demote"
    )
    readiness_notify()  # back in approval: a new stage, announced again when ready
    assert Notification.objects.filter(event="readiness", channel="chat").count() == 2


def test_old_sent_rows_are_pruned_but_dead_rows_and_readiness_notices_stay(world, people, sam):
    from reviewqueue.tasks import notifications_prune

    notify_escalated([add(world, external_id="old")], at=T0)
    Notification.objects.filter(channel="email").update(status="sent")
    Notification.objects.filter(channel="chat").update(status="dead")
    Notification.objects.update(created_at=timezone.now() - timedelta(days=31))
    assert notifications_prune() == 1
    assert list(Notification.objects.values_list("status", flat=True)) == ["dead"]


def test_an_address_removed_before_sending_skips_the_rows_with_a_log_line(
    world, people, sam, caplog
):
    caplog.set_level(logging.INFO, logger="reviewqueue.services.notify_delivery")
    notify_escalated([add(world, external_id="gone")], at=T0)
    sam.email = ""
    sam.save()
    assert notifications_deliver(channel="email", recipient_key=f"user:{sam.pk}") == "skipped"
    assert len(mail.outbox) == 0
    row = Notification.objects.get(channel="email")
    assert (row.status, row.last_error) == ("skipped", "no email address")
    assert sum("no email address" in r.getMessage() for r in caplog.records) == 1
