"""Sending notifications: one message per recipient and channel at a time, from the outbox
rows services/notifications.py wrote.

A delivery takes every due row of one recipient on one channel (`user:<id>` by email, or
the chat webhook), locked FOR UPDATE SKIP LOCKED, and claims them with a lease on
`next_attempt_at` before anything is sent: two workers (a task and the sweep's re-publish,
or a redelivered message) never send the same rows. It then sends one message (the row
itself, or a summary of all of them) outside any transaction, and marks them sent, or due
again after `outbox.retry_delay` (the one backoff), or dead after
REVIEWQUEUE_NOTIFY_MAX_ATTEMPTS with the error kept for the admin.

Rate limit: at most one message per recipient and channel per
REVIEWQUEUE_NOTIFY_WINDOW_SECONDS. Rows that come due inside the window wait for its end
and then go out together, as one summary.

A worker killed between sending and marking leaves rows whose lease runs out: they are sent
again (at least once). The chat message carries the same `webhook-id` for the same rows, so
a receiver can drop the repeat; SMTP has no such key.
"""

import logging
import os
import smtplib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from reviewqueue.domain.notifications import Channel, Event, Message, Part, Status, message_for
from reviewqueue.executors.http import post_signed
from reviewqueue.lib import signing
from reviewqueue.models import Notification, User
from reviewqueue.services.outbox import DELIVER_NOTIFICATIONS, retry_delay, task_publish_on_commit

log = logging.getLogger(__name__)

CHAT_SECRET_ENV = "REVIEWQUEUE_CHAT_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
# A chat request ends within this; an SMTP conversation's every step within EMAIL_TIMEOUT.
_CHAT_DEADLINE_SECONDS = 10.0
# Longer than any one send, so no second worker takes rows the first may still be sending.
_LEASE_SECONDS = 120.0
# Rows carried by one message at most (a summary lists counts and the first few links).
_GROUP_MAX = 1000


@dataclass(frozen=True)
class Sent:
    """How one send went."""

    status: Status  # SENT, PENDING (try again), DEAD, SKIPPED
    error: str = ""
    retry_after: float | None = None


def notifications_deliver(*, channel: str, recipient_key: str) -> str:
    """Send what is due for `recipient_key` on `channel` as one message. Returns what
    happened: nothing (no due row, or another worker holds them), deferred (inside the rate
    window), sent, retrying, dead or skipped."""
    now = timezone.now()
    claimed = _claim(channel, recipient_key, now)
    if isinstance(claimed, str):
        return claimed
    rows, lease = claimed
    message = message_for(
        [Part(event=r.event, subject=r.subject, text=r.text, link=r.link) for r in rows]
    )
    if channel == Channel.CHAT:
        sent = _send_chat(rows, message)
    else:
        sent = _send_email(rows[0].recipient_id, message)
    return _finish(channel, recipient_key, rows, lease, sent)


def _claim(
    channel: str, recipient_key: str, now: datetime
) -> str | tuple[list[Notification], datetime]:
    window = timedelta(seconds=settings.REVIEWQUEUE_NOTIFY_WINDOW_SECONDS)
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(
                channel=channel,
                recipient_key=recipient_key,
                status=Status.PENDING,
                next_attempt_at__lte=now,
            )
            .order_by("pk")[:_GROUP_MAX]
        )
        if not rows:
            return "nothing"
        ids = [r.pk for r in rows]
        last = Notification.objects.filter(
            channel=channel, recipient_key=recipient_key, status=Status.SENT
        ).aggregate(last=Max("sent_at"))["last"]
        if last is not None and last + window > now:
            until = last + window
            Notification.objects.filter(pk__in=ids).update(next_attempt_at=until)
            task_publish_on_commit(
                DELIVER_NOTIFICATIONS,
                channel,
                recipient_key,
                countdown=(until - now).total_seconds(),
                what=f"notifications {channel} {recipient_key} after the rate window",
            )
            return "deferred"
        # The lease is also the claim's token: only the holder's finish matches it.
        lease = now + timedelta(seconds=_LEASE_SECONDS)
        Notification.objects.filter(pk__in=ids).update(
            attempts=F("attempts") + 1, next_attempt_at=lease
        )
        for r in rows:
            r.attempts += 1
    return rows, lease


def _send_email(user_id: int | None, message: Message) -> Sent:
    user = User.objects.filter(pk=user_id).first() if user_id else None
    if user is None or not user.is_active:  # deactivated since the rows were written
        return Sent(Status.SKIPPED, "the person is no longer active")
    if not user.email:
        log.info("notification skipped: user id %s has no email address", user_id)
        return Sent(Status.SKIPPED, "no email address")
    try:
        EmailMessage(message.subject, message.text, to=[user.email]).send()
    except smtplib.SMTPResponseException as exc:  # the server answered: 4xx try again
        error = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        return Sent(Status.PENDING if 400 <= exc.smtp_code < 500 else Status.DEAD, error)
    except smtplib.SMTPRecipientsRefused as exc:
        return Sent(Status.DEAD, f"SMTP refused the recipient: {exc.recipients!r}")
    except (smtplib.SMTPException, OSError) as exc:  # down, unreachable, timed out
        return Sent(Status.PENDING, f"SMTP unavailable: {type(exc).__name__}: {exc}")
    return Sent(Status.SENT)


def _send_chat(rows: list[Notification], message: Message) -> Sent:
    url = settings.REVIEWQUEUE_CHAT_WEBHOOK_URL
    if not url:
        return Sent(Status.SKIPPED, "REVIEWQUEUE_CHAT_WEBHOOK_URL is not set")
    if problem := signing.signing_secret_problem(CHAT_SECRET_ENV):
        return Sent(Status.DEAD, f"not sent: {problem}")
    result = post_signed(
        url,
        {"text": message.text},
        secret=os.environ[CHAT_SECRET_ENV],
        deadline=time.monotonic() + _CHAT_DEADLINE_SECONDS,
        headers={"X-ReviewQueue-Event": "notification"},
        # The same rows carry the same id on every try: a receiver can drop a repeat.
        message_id=f"notification-{rows[0].pk}-{rows[-1].pk}-{len(rows)}",
    )
    if result.ok:
        return Sent(Status.SENT)
    error = result.error + (f": {result.detail[:500]}" if result.detail else "")
    return Sent(Status.PENDING if result.transient else Status.DEAD, error, result.retry_after)


def _finish(
    channel: str, recipient_key: str, rows: list[Notification], lease: datetime, sent: Sent
) -> str:
    now = timezone.now()
    attempts = max(r.attempts for r in rows)
    status = sent.status
    if status == Status.PENDING and attempts >= settings.REVIEWQUEUE_NOTIFY_MAX_ATTEMPTS:
        status = Status.DEAD
    ours = Notification.objects.filter(
        pk__in=[r.pk for r in rows], status=Status.PENDING, next_attempt_at=lease
    )
    with transaction.atomic():
        if status == Status.SENT:
            ours.update(status=Status.SENT, sent_at=now, sent_with=rows[0].pk, last_error="")
            return "sent"
        if status == Status.PENDING:
            wait = retry_delay(attempts, sent.retry_after)
            ours.update(next_attempt_at=now + timedelta(seconds=wait), last_error=sent.error)
            task_publish_on_commit(
                DELIVER_NOTIFICATIONS,
                channel,
                recipient_key,
                countdown=wait,
                what=f"notifications {channel} {recipient_key} retry",
            )
            return "retrying"
        ours.update(status=status, last_error=sent.error)
    if status == Status.DEAD:
        log.warning(
            "notifications dead: %s rows for %s on %s after %s attempts: %s",
            len(rows),
            recipient_key,
            channel,
            attempts,
            sent.error,
        )
    return str(status)


def notifications_due(*, limit: int = 500) -> list[tuple[str, str]]:
    """(channel, recipient key) of pending rows due for a few seconds that no task took:
    after a broker outage, a lost message, or a killed worker whose lease ran out."""
    now = timezone.now()
    return list(
        Notification.objects.filter(
            status=Status.PENDING, next_attempt_at__lte=now - timedelta(seconds=5)
        )
        .values_list("channel", "recipient_key")
        .distinct()[:limit]
    )


def notifications_prune(*, days: int = 30) -> int:
    """Delete sent and skipped rows older than `days` (dead ones stay for the admin). A
    readiness notice is kept: its key is what says "once per stage"."""
    before = timezone.now() - timedelta(days=days)
    deleted, _ = (
        Notification.objects.filter(status__in=[Status.SENT, Status.SKIPPED], created_at__lt=before)
        .exclude(event=Event.READINESS)
        .delete()
    )
    return deleted
