"""Reading incidents: a queue's list, and the count the readiness gate judges."""

from datetime import datetime

from reviewqueue import access
from reviewqueue.exceptions import Forbidden
from reviewqueue.models import Incident, IncidentSeverity, Queue, User


def incident_list(*, user: User, queue: Queue, limit: int = 200) -> list[Incident]:
    """The queue's incidents, newest first, with who reported and resolved them and the
    items they name. For admins and auditors (403 for anyone else)."""
    if not access.can_read_incidents(user):
        raise Forbidden("Only admins and auditors may read incidents.")
    return list(
        Incident.objects.filter(queue=queue)
        .select_related("reported_by", "resolved_by")
        .prefetch_related("recommendations")
        .order_by("-reported_at", "-id")[:limit]
    )


def high_incident_count(*, queue: Queue, since: datetime) -> int:
    """High-severity incidents reported at or after `since` (resolved ones too: resolving
    an incident does not undo that it happened)."""
    return Incident.objects.filter(
        queue=queue, severity=IncidentSeverity.HIGH, reported_at__gte=since
    ).count()
