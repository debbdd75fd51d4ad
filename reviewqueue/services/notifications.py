"""Notifications: the one entry point for telling people (email) and the chat webhook what
happened. Every `notify_*` writes Notification rows in the caller's transaction (the
outbox) and publishes their delivery after commit (services/notify_delivery.py sends them:
claimed, retried with backoff, never twice). Nothing is sent inside a request.

Who gets what:
- email: the people the event concerns (an assignee; the escalation takers of the queue;
  the people who could take an item near its SLA; the queue's leads for a breaker trip or a
  ready stage; everyone for their digest), each only for the events they chose on
  /settings/ (domain/notifications.DEFAULT_EMAIL_EVENTS until they choose). A person
  without an email address is skipped with one log line.
- chat: every queue-level event (domain/notifications.CHAT_EVENTS) when
  REVIEWQUEUE_CHAT_WEBHOOK_URL is set and the queue does not say `chat = false`.

Each row's `dedupe_key` is unique, so the same event (an escalation at a given moment, one
SLA warning per item, one readiness notice per stage, one digest per day) is written once.
Who belongs to a queue is asked of `reviewqueue/access.py`.
"""

import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from reviewqueue import access
from reviewqueue.domain import notifications as rules
from reviewqueue.domain.notifications import Channel, Event, Part
from reviewqueue.domain.readiness import Readiness
from reviewqueue.models import Notification, NotificationPreference, Queue, Recommendation, User
from reviewqueue.selectors.notifications import email_events_of
from reviewqueue.services.outbox import DELIVER_NOTIFICATIONS, task_publish_on_commit

log = logging.getLogger(__name__)


def absolute(path: str) -> str:
    """`path` of this app as a link people can open (REVIEWQUEUE_BASE_URL)."""
    return settings.REVIEWQUEUE_BASE_URL + path


def item_link(recommendation_id: object) -> str:
    return absolute(reverse("recommendation", args=[recommendation_id]))


def notify_assigned(*, recommendation: Recommendation, assignee: User) -> None:
    """Tell `assignee` by email that `recommendation` was assigned to them (if they chose
    it). Call inside the assignment's transaction."""
    queue = recommendation.queue
    part = rules.item_part(
        Event.ASSIGNED,
        queue=queue.slug,
        external_id=recommendation.external_id,
        link=item_link(recommendation.pk),
    )
    stamp = recommendation.updated_at.isoformat()
    _write(
        _emails(
            Event.ASSIGNED,
            [assignee],
            part,
            key=f"assigned:{recommendation.pk}:{stamp}",
            queue=queue,
            recommendation=recommendation,
        )
    )


def notify_escalated(
    recommendations: Sequence[Recommendation], *, at: datetime | None = None, reason: str = ""
) -> None:
    """Tell the escalation takers of each item's queue (email, if they chose it) and the
    chat webhook (unless the queue says `chat = false`) that these items were escalated.
    The rows need pk, queue_id and external_id; `at` is the escalation's time when the rows
    do not carry it (`escalated_at`). Call inside the escalation's transaction; a burst is
    summarised per recipient when sent."""
    if not recommendations:
        return
    queues = Queue.objects.in_bulk({r.queue_id for r in recommendations})
    takers = access.escalation_takers(queues)
    rows: list[Notification] = []
    skipped: dict[int, str] = {}
    for rec in recommendations:
        queue = queues[rec.queue_id]
        when = at or rec.escalated_at or timezone.now()
        part = rules.item_part(
            Event.ESCALATED,
            queue=queue.slug,
            external_id=rec.external_id,
            link=item_link(rec.pk),
            detail=reason,
        )
        key = f"escalated:{rec.pk}:{when.isoformat()}"
        rows += _emails(
            Event.ESCALATED,
            takers.get(queue.pk, []),
            part,
            key=key,
            queue=queue,
            recommendation=rec,
            skipped=skipped,
        )
        rows += _chat(Event.ESCALATED, part, key=key, queue=queue, recommendation=rec)
    _log_without_email(skipped, Event.ESCALATED)
    _write(rows)


def notify_sla_warning(recommendations: Sequence[Recommendation]) -> None:
    """Warn, once per item, that these items are about to pass their SLA: the assignee if
    there is one, else everyone who could take the item (the escalation takers for an
    escalated item), each if they chose SLA warnings; and the chat webhook. Rows need pk,
    queue_id, external_id, status, assigned_to_id and due_at."""
    if not recommendations:
        return
    queues = Queue.objects.in_bulk({r.queue_id for r in recommendations})
    reviewers = access.queue_reviewers(queues)
    takers = access.escalation_takers(queues)
    assignees = User.objects.in_bulk(
        {r.assigned_to_id for r in recommendations if r.assigned_to_id}
    )
    rows: list[Notification] = []
    skipped: dict[int, str] = {}
    for rec in recommendations:
        queue = queues[rec.queue_id]
        if rec.assigned_to_id in assignees:
            people = [assignees[rec.assigned_to_id]]
        elif rec.status == "escalated":
            people = takers.get(queue.pk, [])
        else:
            people = reviewers.get(queue.pk, [])
        due = rec.due_at.strftime("%Y-%m-%d %H:%M UTC") if rec.due_at else ""
        part = rules.item_part(
            Event.SLA_WARNING,
            queue=queue.slug,
            external_id=rec.external_id,
            link=item_link(rec.pk),
            detail=f"due {due}" if due else "",
        )
        key = f"sla_warning:{rec.pk}"
        rows += _emails(
            Event.SLA_WARNING,
            people,
            part,
            key=key,
            queue=queue,
            recommendation=rec,
            skipped=skipped,
        )
        rows += _chat(Event.SLA_WARNING, part, key=key, queue=queue, recommendation=rec)
    _log_without_email(skipped, Event.SLA_WARNING)
    _write(rows)


def notify_breaker_tripped(*, queue: Queue, reason: str, at: datetime) -> None:
    """Tell the queue's leads (email, if chosen) and the chat webhook that its breaker
    tripped. Call inside the trip's transaction."""
    link = absolute(reverse("queue", args=[queue.slug]))
    subject = f"[{queue.slug}] circuit breaker tripped"
    part = Part(
        event=Event.BREAKER,
        subject=subject,
        text=f"{subject}: {reason}\nThe queue behaves as approval until an admin resumes "
        f"it: {link}",
        link=link,
    )
    key = f"breaker:{queue.pk}:{at.isoformat()}"
    _write(
        _emails(Event.BREAKER, access.queue_leads(queue), part, key=key, queue=queue)
        + _chat(Event.BREAKER, part, key=key, queue=queue)
    )


def notify_stage_ready(*, queue: Queue, readiness: Readiness, stage_since: datetime) -> None:
    """Tell the queue's leads (email, if chosen) and the chat webhook that the queue's stage
    meets every gate for the next one: once per stage (until the stage changes)."""
    link = absolute(reverse("queue", args=[queue.slug]))
    subject = f"[{queue.slug}] ready to move from {readiness.stage} to {readiness.next_stage}"
    part = Part(
        event=Event.READINESS,
        subject=subject,
        text=f"{subject}: {readiness.summary}\nReview the evidence: {link}",
        link=link,
    )
    key = f"readiness:{queue.pk}:{readiness.stage}:{stage_since.isoformat()}"
    _write(
        _emails(Event.READINESS, access.queue_leads(queue), part, key=key, queue=queue)
        + _chat(Event.READINESS, part, key=key, queue=queue)
    )


def notify_digest(*, user: User, part: Part, day: date) -> None:
    """The daily digest `part` for `user`, once per day (email only)."""
    _write(_emails(Event.DIGEST, [user], part, key=f"digest:{day.isoformat()}"))


def notification_preferences_save(*, user: User, email_events: Iterable[str]) -> frozenset[Event]:
    """Save which events `user` gets by email (unknown names are ignored). Returns them.
    A preference, not configuration: not audited."""
    chosen = rules.email_events(list(email_events))
    NotificationPreference.objects.update_or_create(
        user=user,
        defaults={"email_events": sorted(chosen), "updated_at": timezone.now()},
    )
    return chosen


def _emails(
    event: Event,
    people: Iterable[User],
    part: Part,
    *,
    key: str,
    queue: Queue | None = None,
    recommendation: Recommendation | None = None,
    skipped: dict[int, str] | None = None,
) -> list[Notification]:
    """Email rows for those of `people` who chose `event`. A person without an address is
    logged at once, or collected in `skipped` (user id -> username) by a caller that writes
    many items, so that one line is logged per person, not per item."""
    people = list(people)
    chosen = email_events_of(people)
    rows = []
    for person in people:
        if event not in chosen[person.pk] or not person.is_active:
            continue
        if not person.email:
            if skipped is not None:
                skipped[person.pk] = person.get_username()
            else:
                _log_skip(person.pk, person.get_username(), event)
            continue
        recipient = rules.user_recipient(person.pk)
        rows.append(
            _row(Channel.EMAIL, event, part, f"{key}:{recipient}", recipient, person, queue)
        )
        rows[-1].recommendation = recommendation
    return rows


def _chat(
    event: Event,
    part: Part,
    *,
    key: str,
    queue: Queue,
    recommendation: Recommendation | None = None,
) -> list[Notification]:
    if not settings.REVIEWQUEUE_CHAT_WEBHOOK_URL or not queue.chat:
        return []
    row = _row(Channel.CHAT, event, part, f"{key}:chat", rules.CHAT_RECIPIENT, None, queue)
    row.recommendation = recommendation
    return [row]


def _row(
    channel: Channel,
    event: Event,
    part: Part,
    key: str,
    recipient_key: str,
    person: User | None,
    queue: Queue | None,
) -> Notification:
    return Notification(
        channel=channel,
        event=event,
        recipient_key=recipient_key,
        recipient=person,
        queue=queue,
        dedupe_key=key[:200],
        subject=part.subject[:300],
        text=part.text,
        link=part.link,
    )


def _log_skip(user_id: int, username: str, event: str) -> None:
    log.info(
        "notification skipped: user %s (id %s) has no email address (%s)", username, user_id, event
    )


def _log_without_email(skipped: dict[int, str], event: Event) -> None:
    for user_id, username in skipped.items():
        _log_skip(user_id, username, event)


def _write(rows: list[Notification]) -> None:
    """Insert the rows (an event already written is left alone: `dedupe_key`) and publish
    one delivery per recipient and channel after commit."""
    if not rows:
        return
    with transaction.atomic():
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        for channel, recipient_key in sorted({(r.channel, r.recipient_key) for r in rows}):
            task_publish_on_commit(
                DELIVER_NOTIFICATIONS,
                channel,
                recipient_key,
                what=f"notifications {channel} {recipient_key}",
            )
