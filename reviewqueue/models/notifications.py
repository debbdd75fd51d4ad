"""Notifications: the outbox of messages to people (email) and to the chat webhook, and each
person's choice of what they get by email."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviewqueue.domain.notifications import Channel, Event, Status


class Notification(models.Model):
    """One thing to tell one recipient on one channel: written (committed) first, sent by a
    task (services/notify_delivery.py). Rows for the same recipient and channel that are due
    together go out as one message; `sent_with` names the row whose message carried it.
    `dedupe_key` is unique: the same event is never written, so never sent, twice."""

    channel = models.CharField(max_length=8, choices=[(c.value, c.value) for c in Channel])
    event = models.CharField(max_length=16, choices=[(e.value, e.value) for e in Event])
    # `user:<id>` or `chat`: what messages are grouped and rate-limited by.
    recipient_key = models.CharField(max_length=40)
    recipient = models.ForeignKey(
        "reviewqueue.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    queue = models.ForeignKey(
        "reviewqueue.Queue", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recommendation = models.ForeignKey(
        "reviewqueue.Recommendation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    dedupe_key = models.CharField(max_length=200, unique=True)
    subject = models.CharField(max_length=300)
    text = models.TextField()
    link = models.URLField(max_length=2000, blank=True)
    status = models.CharField(
        max_length=8, choices=[(s.value, s.value) for s in Status], default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    # Due time while pending; while a worker sends it, the end of that worker's lease.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    sent_with = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweep and a delivery's group: pending rows by recipient, due first.
            models.Index(
                fields=["channel", "recipient_key", "next_attempt_at"],
                name="notification_due_idx",
                condition=Q(status="pending"),
            ),
            # The rate limit: when this recipient last got a message on this channel.
            models.Index(
                fields=["channel", "recipient_key", "sent_at"],
                name="notification_sent_idx",
                condition=Q(status="sent"),
            ),
            # The dead ones, for the admin list, the ops page and the gauge.
            models.Index(
                fields=["created_at"], name="notification_dead_idx", condition=Q(status="dead")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.event} → {self.recipient_key}"


class NotificationPreference(models.Model):
    """The events a person gets by email (names of domain/notifications.Event). No row: the
    defaults (`DEFAULT_EMAIL_EVENTS`). A preference, not configuration: not audited."""

    user = models.OneToOneField(
        "reviewqueue.User", on_delete=models.CASCADE, related_name="notification_preference"
    )
    email_events = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"notifications of {self.user_id}"
