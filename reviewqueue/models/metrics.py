"""Memoised metrics: the numbers of closed trend buckets, so a year of history is read once.

A bucket is a half-open UTC range [lo, hi) over human decisions matching one set of filters
(its `signature`). Decisions are immutable and are written with decided_at = the time of the
decision, so once `hi` is safely in the past (reporting/buckets.py: CLOSED_AFTER) the
bucket's numbers never change; open buckets are always computed from the decisions.
"""

from django.db import models
from django.utils import timezone


class MetricsBucket(models.Model):
    signature = models.CharField(max_length=64)  # SHA-256 of the filters; see TrendFilters
    lo = models.DateTimeField()
    hi = models.DateTimeField()
    decisions = models.PositiveIntegerField()
    approved = models.PositiveIntegerField()
    modified = models.PositiveIntegerField()
    rejected = models.PositiveIntegerField()
    median_seconds_to_decision = models.FloatField(null=True)
    p90_seconds_to_decision = models.FloatField(null=True)
    median_review_seconds = models.FloatField(null=True)
    flagged = models.PositiveIntegerField(default=0, db_default=0)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Also the lookup index: one signature's buckets in a time range.
            models.UniqueConstraint(fields=["signature", "lo", "hi"], name="uniq_metrics_bucket"),
        ]
