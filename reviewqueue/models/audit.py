"""The audit trail: one append-only row per state change, written in the same transaction."""

from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    occurred_at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=16)  # user | source | system
    actor_user = models.ForeignKey(
        "reviewqueue.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_source = models.ForeignKey(
        "reviewqueue.Source", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64)  # e.g. recommendation.created
    recommendation = models.ForeignKey(
        "reviewqueue.Recommendation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        db_index=False,
    )
    queue = models.ForeignKey(
        "reviewqueue.Queue", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    model_name = models.CharField(max_length=200, blank=True)
    model_version = models.CharField(max_length=200, blank=True)
    prompt_version = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        indexes = [
            # An item's timeline.
            models.Index(fields=["recommendation", "id"], name="audit_rec_idx"),
            models.Index(fields=["occurred_at"], name="audit_time_idx"),
        ]
