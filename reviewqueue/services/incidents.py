"""Incidents: an admin records that something went wrong in a queue, and later resolves it.
They are never deleted (the database refuses; migration 0011): the readiness gate "zero
high-severity incidents" reads them, and the record of what went wrong stays."""

import uuid
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from reviewqueue import access
from reviewqueue.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from reviewqueue.models import Incident, IncidentSeverity, Queue, Recommendation, User
from reviewqueue.services.audit import Actor, audit_record

SUMMARY_MAX = 5000
MAX_ITEMS = 100


def _checked_ids(queue: Queue, values: Sequence[object]) -> list[uuid.UUID]:
    """The ids as UUIDs, every one an item of `queue`; otherwise a 400 naming the bad ones."""
    if len(values) > MAX_ITEMS:
        raise ValidationFailed(
            "Too many items.",
            errors={"recommendation_ids": f"Must have at most {MAX_ITEMS} items."},
        )
    parsed: dict[str, uuid.UUID | None] = {}
    for value in values:
        try:
            parsed[str(value)] = uuid.UUID(str(value))
        except ValueError:
            parsed[str(value)] = None
    wanted = {u for u in parsed.values() if u is not None}
    found = set(
        Recommendation.objects.filter(queue=queue, pk__in=wanted).values_list("pk", flat=True)
    )
    bad = [text for text, u in parsed.items() if u is None or u not in found]
    if bad:
        raise ValidationFailed(
            "Some items are not in this queue.",
            errors={
                "recommendation_ids": f"Not items of queue '{queue.slug}': " + ", ".join(bad) + "."
            },
        )
    return list(dict.fromkeys(u for u in parsed.values() if u is not None))


def incident_record(
    *,
    queue: Queue,
    user: User,
    severity: str,
    summary: str,
    recommendation_ids: Sequence[object] = (),
) -> Incident:
    """Record an incident against `queue`.

    Preconditions: the user administers queues (403); severity is high, medium or low and
    the summary is not blank (400); every recommendation id is an item of `queue` (400,
    naming the ids that are not). A high-severity incident makes the readiness gate "zero
    high-severity incidents" unmet for its window.
    Audited: `incident.recorded` with the incident, severity, summary and item ids.
    """
    if not access.can_administer_queues(user):
        raise Forbidden("Only admins may record incidents.")
    errors: dict[str, str] = {}
    if severity not in IncidentSeverity.values:
        errors["severity"] = "Must be one of: high, medium, low."
    summary = summary.strip()
    if not summary:
        errors["summary"] = "Say what happened."
    elif len(summary) > SUMMARY_MAX:
        errors["summary"] = f"Must be at most {SUMMARY_MAX} characters."
    if errors:
        raise ValidationFailed("The incident is not valid.", errors=errors)
    ids = _checked_ids(queue, recommendation_ids)
    with transaction.atomic():
        incident = Incident.objects.create(
            queue=queue, severity=severity, summary=summary, reported_by=user
        )
        incident.recommendations.set(Recommendation.objects.filter(pk__in=ids))
        audit_record(
            action="incident.recorded",
            actor=Actor.of_user(user),
            queue=queue,
            data={
                "incident": incident.pk,
                "severity": severity,
                "summary": summary,
                "recommendation_ids": [str(u) for u in ids],
            },
        )
    return incident


def incident_resolve(
    *, queue: Queue, incident_id: int, user: User, resolution: str = ""
) -> Incident:
    """Mark an incident of `queue` resolved. It stays on the record and in the readiness
    window: resolving says it is dealt with, not that it did not happen.

    Preconditions: the user administers queues (403); the incident belongs to `queue`
    (404); it is not resolved yet (409).
    Audited: `incident.resolved` with the incident, its severity and the resolution text.
    """
    if not access.can_administer_queues(user):
        raise Forbidden("Only admins may resolve incidents.")
    if len(resolution) > SUMMARY_MAX:
        raise ValidationFailed(
            "Resolution too long.",
            errors={"resolution": f"Must be at most {SUMMARY_MAX} characters."},
        )
    with transaction.atomic():
        incident = Incident.objects.select_for_update().filter(pk=incident_id, queue=queue).first()
        if incident is None:
            raise NotFound("No such incident in this queue.")
        if incident.resolved_at is not None:
            raise Conflict("This incident is already resolved.")
        incident.resolved_at = timezone.now()
        incident.resolved_by = user
        incident.resolution = resolution.strip()
        incident.save(update_fields=["resolved_at", "resolved_by", "resolution"])
        audit_record(
            action="incident.resolved",
            actor=Actor.of_user(user),
            queue=queue,
            data={
                "incident": incident.pk,
                "severity": incident.severity,
                "resolution": incident.resolution,
            },
        )
    return incident
