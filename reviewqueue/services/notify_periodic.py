"""Notifications that come from looking, not from an event: a stage that now meets all its
readiness gates (beat, every 10 minutes) and the daily digest per reviewer (beat, daily).
Both write through services/notifications.py; its dedupe keys make a second run (or a
second beat) write nothing new."""

from datetime import datetime

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from reviewqueue import access
from reviewqueue.domain import notifications as rules
from reviewqueue.models import Queue, Recommendation, StageChange, User
from reviewqueue.selectors.notifications import email_events_of
from reviewqueue.services.notifications import absolute, notify_digest, notify_stage_ready
from reviewqueue.states import OPEN_STATUSES, Stage, Status


def readiness_notify(*, now: datetime | None = None) -> int:
    """For each queue whose stage meets every gate for the next one, notify once per stage
    (until the stage changes: the key holds the time the queue entered it). Returns how
    many queues are ready."""
    from reviewqueue.reporting.readiness import readiness_for

    now = now or timezone.now()
    ready = 0
    for queue in Queue.objects.exclude(stage=Stage.AUTONOMOUS).order_by("pk"):
        readiness = readiness_for(queue=queue, now=now)
        if not readiness.ready:
            continue
        ready += 1
        since = (
            StageChange.objects.filter(queue=queue)
            .order_by("-changed_at")
            .values_list("changed_at", flat=True)
            .first()
        ) or queue.created_at
        notify_stage_ready(queue=queue, readiness=readiness, stage_since=since)
    return ready


def digests_send(*, now: datetime | None = None) -> int:
    """Write today's digest for every active person with items waiting for them (pending
    items of the queues they review, escalated ones too where they take escalations); the
    email goes only to those who chose digests. Returns how many digests were written."""
    now = now or timezone.now()
    waiting: dict[tuple[int, str], int] = {
        (row["queue_id"], row["status"]): row["n"]
        for row in Recommendation.objects.filter(status__in=[Status.PENDING, Status.ESCALATED])
        .values("queue_id", "status")
        .annotate(n=Count("pk"))
    }
    if not waiting:
        return 0
    slugs = dict(Queue.objects.values_list("pk", "slug"))
    assigned = dict(
        Recommendation.objects.filter(status__in=OPEN_STATUSES, assigned_to__isnull=False)
        .values("assigned_to_id")
        .annotate(n=Count("pk"))
        .values_list("assigned_to_id", "n")
    )
    people = list(User.objects.filter(is_active=True).exclude(email="").order_by("pk"))
    chosen = email_events_of(people)
    written = 0
    for user in people:
        if rules.Event.DIGEST not in chosen[user.pk]:
            continue
        counts = []
        for queue_id, role in sorted(access.queue_roles(user).items()):
            n = waiting.get((queue_id, Status.PENDING), 0)
            if access.takes_escalated(role):
                n += waiting.get((queue_id, Status.ESCALATED), 0)
            if n:
                slug = slugs[queue_id]
                counts.append((slug, n, absolute(reverse("queue-items", args=[slug]))))
        if not counts:
            continue
        part = rules.digest_part(
            counts=counts, assigned=assigned.get(user.pk, 0), link=absolute(reverse("queues"))
        )
        notify_digest(user=user, part=part, day=now.date())
        written += 1
    return written
