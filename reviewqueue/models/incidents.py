"""Incidents: something went wrong in a queue, recorded by an admin.

The readiness gate "zero high-severity incidents in the window" reads them. An incident is
never deleted (PROTECT everywhere, and no service deletes); resolving one keeps the row and
records who and when, so the history shows what the team knew at each moment.
"""

from django.db import models
from django.utils import timezone


class IncidentSeverity(models.TextChoices):
    HIGH = "high", "high"
    MEDIUM = "medium", "medium"
    LOW = "low", "low"


class Incident(models.Model):
    queue = models.ForeignKey(
        "reviewqueue.Queue", on_delete=models.PROTECT, related_name="incidents"
    )
    severity = models.CharField(max_length=8, choices=IncidentSeverity.choices)
    summary = models.TextField()
    recommendations = models.ManyToManyField(
        "reviewqueue.Recommendation", blank=True, related_name="incidents"
    )
    reported_by = models.ForeignKey("reviewqueue.User", on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(default=timezone.now)
    resolved_by = models.ForeignKey(
        "reviewqueue.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    class Meta:
        indexes = [
            # A queue's incidents, newest first; the readiness gate counts a window of them.
            models.Index(fields=["queue", "-reported_at"], name="incident_queue_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(severity__in=["high", "medium", "low"]),
                name="incident_severity_valid",
            ),
            # Resolved means both who and when.
            models.CheckConstraint(
                condition=models.Q(resolved_at__isnull=True, resolved_by__isnull=True)
                | models.Q(resolved_at__isnull=False, resolved_by__isnull=False),
                name="incident_resolution_complete",
            ),
        ]
