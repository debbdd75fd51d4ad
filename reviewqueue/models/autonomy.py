"""Staged autonomy: a queue's stage history, and QA verdicts on auto-executed items."""

from django.db import models
from django.utils import timezone

from reviewqueue.models.config import STAGE_CHOICES
from reviewqueue.states import QaVerdict


class StageChange(models.Model):
    """One move of a queue between stages: by an admin (advance or demote) or by the breaker
    (demote). `evidence` is the readiness snapshot at the time of the move, so the history
    shows what the decision was based on even after the numbers have moved on."""

    queue = models.ForeignKey(
        "reviewqueue.Queue", on_delete=models.PROTECT, related_name="stage_changes"
    )
    from_stage = models.CharField(max_length=16, choices=STAGE_CHOICES)
    to_stage = models.CharField(max_length=16, choices=STAGE_CHOICES)
    kind = models.CharField(max_length=16)  # advance | demote | breaker | resume
    user = models.ForeignKey(
        "reviewqueue.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    comment = models.TextField(blank=True)
    evidence = models.JSONField(default=dict)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # A queue's history, newest first.
            models.Index(fields=["queue", "-changed_at"], name="stagechange_queue_idx"),
        ]


class QaReview(models.Model):
    """The after-the-fact verdict on one QA-sampled, auto-executed item. One per item: the
    unique recommendation settles two reviewers marking the same item at once."""

    recommendation = models.OneToOneField(
        "reviewqueue.Recommendation", on_delete=models.PROTECT, related_name="qa_review"
    )
    queue = models.ForeignKey("reviewqueue.Queue", on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=16, choices=[(v.value, v.value) for v in QaVerdict])
    reason_code = models.CharField(max_length=100, blank=True)
    comment = models.TextField(blank=True)
    reviewer = models.ForeignKey("reviewqueue.User", on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # The QA breaker: a queue's latest verdicts.
            models.Index(fields=["queue", "-reviewed_at"], name="qareview_queue_idx"),
        ]


class AnomalyBaseline(models.Model):
    """The recent history of one numeric payload field of one action type in one queue: the
    count, mean and standard deviation of its last `window` values, which the anomaly flags
    compare each arriving item with (domain/flags.py). Written only by the periodic
    refresh (services/anomaly.py), never by ingest, so no ingest waits on another's update
    of this row; ingest reads it."""

    queue = models.ForeignKey("reviewqueue.Queue", on_delete=models.CASCADE, related_name="+")
    action_type = models.ForeignKey(
        "reviewqueue.ActionType", on_delete=models.CASCADE, related_name="+"
    )
    field = models.CharField(max_length=200)
    window = models.PositiveIntegerField()  # the window asked for; `count` may be fewer
    count = models.PositiveIntegerField()  # numeric values found among the last `window` items
    mean = models.FloatField(null=True)
    stddev = models.FloatField(null=True)
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "action_type", "field"], name="uniq_anomaly_baseline"
            )
        ]

    def __str__(self) -> str:
        return f"{self.queue_id}/{self.action_type_id}/{self.field}"
