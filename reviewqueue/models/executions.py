"""Executions, their attempts, and callback deliveries: the outbox."""

from django.db import models
from django.utils import timezone

from reviewqueue.lib.ids import uuid7
from reviewqueue.states import ExecutionStatus

EXECUTION_STATUS_CHOICES = [(s.value, s.value) for s in ExecutionStatus]


class Execution(models.Model):
    """Written in the same transaction as the approval; the worker executes `payload` only
    while its hash still equals `payload_hash` from the decision."""

    recommendation = models.OneToOneField(
        "reviewqueue.Recommendation", on_delete=models.PROTECT, related_name="execution"
    )
    # Copied from the recommendation and its decision (both immutable) so the breaker reads
    # a queue's last auto-executions from one index, not through two joins. Nullable so the
    # previous version, still running while 0023 is applied, can go on writing executions
    # (README, Upgrades); every execution written by this version has it.
    queue = models.ForeignKey(
        "reviewqueue.Queue", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    by_policy = models.BooleanField(default=False, db_default=False)  # routing auto-approved it
    status = models.CharField(
        max_length=16, choices=EXECUTION_STATUS_CHOICES, default=ExecutionStatus.PENDING
    )
    payload = models.JSONField()
    payload_hash = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=100, unique=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)  # raised by a manual retry
    # When due (pending/retrying), or until when a running attempt holds it (running).
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweep: executions due to (re)run.
            models.Index(
                fields=["next_attempt_at"],
                name="execution_due_idx",
                condition=models.Q(status__in=["pending", "retrying", "running"]),
            ),
            # The breaker reads a queue's last N finished auto-executions, newest first: a
            # walk of at most N entries after every execution (services/breaker.py).
            models.Index(
                fields=["queue", "-finished_at"],
                name="execution_breaker_idx",
                condition=models.Q(by_policy=True, status__in=["succeeded", "dead", "refused"]),
            ),
            # The admins' list of dead executions, newest first (selectors/executions.py).
            models.Index(
                fields=["-finished_at"],
                name="execution_dead_idx",
                condition=models.Q(status__in=["dead", "refused"]),
            ),
        ]


class ExecutionAttempt(models.Model):
    execution = models.ForeignKey(Execution, on_delete=models.PROTECT, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # succeeded | retry | dead | refused | lost (its lease ran out before it finished)
    outcome = models.CharField(max_length=16, blank=True)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    # Short and ours (status and phrase, an error class): shown wherever the item is.
    error = models.TextField(blank=True)
    # The target's response body (at most 64 KiB) or the exception: admins only.
    detail = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["execution", "number"], name="uniq_attempt_number")
        ]


class CallbackDelivery(models.Model):
    """One event for a source's callback URL. `id` is the event id sources de-duplicate on."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    source = models.ForeignKey("reviewqueue.Source", on_delete=models.PROTECT)
    recommendation = models.ForeignKey("reviewqueue.Recommendation", on_delete=models.PROTECT)
    event_type = models.CharField(max_length=50)
    body = models.JSONField()
    status = models.CharField(max_length=16, default="pending")  # pending|delivered|dead
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="callback_due_idx",
                condition=models.Q(status="pending"),
            ),
        ]
