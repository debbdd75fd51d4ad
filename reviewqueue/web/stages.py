"""A queue's own page (stage, readiness, stage history, disagreements) with the admin's
advance/demote form, and the QA list where reviewers mark sampled auto-executed items."""

import uuid
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reviewqueue import access
from reviewqueue.domain.flags import SIGMA, anomaly_of, flags_apply
from reviewqueue.domain.routing import effective_stage
from reviewqueue.exceptions import DomainError, Forbidden, NotFound
from reviewqueue.models import Queue
from reviewqueue.reporting.flag_counts import flag_counts
from reviewqueue.selectors.autonomy import (
    qa_counts,
    qa_pending,
    queue_for_reader,
    shadow_disagreements,
    stage_history,
)
from reviewqueue.selectors.incidents import incident_list
from reviewqueue.selectors.queues import review_item
from reviewqueue.services.breaker import breaker_resume
from reviewqueue.services.incidents import incident_record, incident_resolve
from reviewqueue.services.qa import qa_review_record
from reviewqueue.services.stages import readiness_snapshot, stage_change
from reviewqueue.states import STAGE_ORDER, FlagKind, Stage
from reviewqueue.web.errors import errors_back_to
from reviewqueue.web.pages import current_user

FLAG_DAYS = 30  # the queue page counts the flagged items of the last 30 days


def _flag_rules(queue: Queue) -> list[tuple[str, str]]:
    """(kind, what raises it) for each anomaly flag the queue configures."""
    rules: list[tuple[str, str]] = []
    if queue.hard_risk_ceiling is not None:
        rules.append(
            (FlagKind.RISK_CEILING, f"risk at or above {queue.hard_risk_ceiling:g} (escalated)")
        )
    if queue.hard_confidence_floor is not None:
        rules.append(
            (FlagKind.CONFIDENCE_FLOOR, f"confidence below {queue.hard_confidence_floor:g}")
        )
    anomaly = anomaly_of(queue)
    if anomaly is not None:
        rules.append(
            (
                FlagKind.OUTLIER,
                f"{', '.join(anomaly.fields)} more than {anomaly.z:g} {SIGMA} from the mean of "
                f"the action type's last {anomaly.window:,} items",
            )
        )
    if queue.max_per_5min is not None:
        rules.append(
            (
                FlagKind.VOLUME,
                f"more than {queue.max_per_5min:,} items from one source in 5 minutes",
            )
        )
    return rules


def _queue(request: HttpRequest, slug: str) -> Queue:
    return queue_for_reader(user=current_user(request), slug=slug)


def _queue_page(
    request: HttpRequest, queue: Queue, error: DomainError | None = None, status: int = 200
) -> HttpResponse:
    user = current_user(request)
    here = STAGE_ORDER.index(Stage(queue.stage))
    now = timezone.now()
    context = {
        "queue": queue,
        "readiness": readiness_snapshot(queue=queue),
        "history": stage_history(queue=queue),
        "advance_to": STAGE_ORDER[here + 1].value if here + 1 < len(STAGE_ORDER) else None,
        "demote_to": [s.value for s in STAGE_ORDER[:here]],
        "qa": qa_counts(queue=queue),
        "flags": flag_counts(queues=[queue], lo=now - timedelta(days=FLAG_DAYS), hi=now)[0],
        "flag_days": FLAG_DAYS,
        "flag_rules": _flag_rules(queue),
        "flags_apply": flags_apply(effective_stage(queue)),
        "disagreements": shadow_disagreements(queue=queue) if access.sees_proposals(user) else None,
        "incidents": (
            incident_list(user=user, queue=queue, limit=10)
            if access.can_read_incidents(user)
            else None
        ),
        "error": error,
        "data": request.POST if error else {},
        "nav": "queues",
    }
    return render(request, "reviewqueue/queues/detail.html", context, status=status)


@login_required
@require_GET
def queue_page(request: HttpRequest, slug: str) -> HttpResponse:
    return _queue_page(request, _queue(request, slug))


@login_required
@require_POST
def queue_stage(request: HttpRequest, slug: str) -> HttpResponse:
    queue = _queue(request, slug)
    try:
        change = stage_change(
            queue=queue,
            to_stage=request.POST.get("to_stage", ""),
            user=current_user(request),
            comment=request.POST.get("comment", ""),
        )
    except DomainError as exc:
        return _queue_page(request, queue, error=exc, status=exc.status_code)
    messages.success(request, f"{queue.name} moved from {change.from_stage} to {change.to_stage}.")
    return redirect("queue", slug=queue.slug)


@login_required
@require_POST
@errors_back_to("queue")
def queue_resume(request: HttpRequest, slug: str) -> HttpResponse:
    """An admin resumes a tripped breaker with a required comment; back to the queue page."""
    queue = _queue(request, slug)
    breaker_resume(queue=queue, user=current_user(request), comment=request.POST.get("comment", ""))
    messages.success(
        request, f"Auto-execution resumed on {queue.name}; the breaker starts a fresh window."
    )
    return redirect("queue", slug=queue.slug)


@login_required
@require_GET
def qa_page(request: HttpRequest, slug: str) -> HttpResponse:
    queue = _queue(request, slug)
    context = {
        "queue": queue,
        "items": qa_pending(queue=queue),
        "qa": qa_counts(queue=queue),
        "nav": "queues",
    }
    return render(request, "reviewqueue/queues/qa.html", context)


@login_required
@require_POST
@errors_back_to("queue-qa")
def qa_verdict(request: HttpRequest, slug: str, recommendation_id: uuid.UUID) -> HttpResponse:
    queue = _queue(request, slug)
    if review_item(queue=queue, recommendation_id=recommendation_id) is None:
        raise Http404("No such item in this queue.")
    # Admins and auditors read the queue; only members give verdicts (403 otherwise).
    qa_review_record(
        user=current_user(request),
        recommendation_id=recommendation_id,
        verdict=request.POST.get("verdict", ""),
        reason_code=request.POST.get("reason_code", ""),
        comment=request.POST.get("comment", ""),
    )
    messages.success(request, "QA verdict recorded.")
    return redirect("queue-qa", slug=queue.slug)


def _incidents_page(
    request: HttpRequest, queue: Queue, error: DomainError | None = None, status: int = 200
) -> HttpResponse:
    user = current_user(request)
    incidents = incident_list(user=user, queue=queue)
    context = {
        "queue": queue,
        "incidents": incidents,
        "may_record": access.can_administer_queues(user),
        "error": error,
        "data": request.POST if error else {},
        "nav": "queues",
    }
    return render(request, "reviewqueue/queues/incidents.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def incidents_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The queue's incidents for admins and auditors; an admin records one with the form."""
    queue = _queue(request, slug)
    if request.method == "GET":
        return _incidents_page(request, queue)
    try:
        incident_record(
            queue=queue,
            user=current_user(request),
            severity=request.POST.get("severity", ""),
            summary=request.POST.get("summary", ""),
            recommendation_ids=request.POST.get("recommendation_ids", "").replace(",", " ").split(),
        )
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        return _incidents_page(request, queue, error=exc, status=exc.status_code)
    messages.success(request, "Incident recorded.")
    return redirect("queue-incidents", slug=queue.slug)


@login_required
@require_POST
@errors_back_to("queue-incidents")
def incident_resolve_view(request: HttpRequest, slug: str, incident_id: int) -> HttpResponse:
    incident_resolve(
        queue=_queue(request, slug),
        incident_id=incident_id,
        user=current_user(request),
        resolution=request.POST.get("resolution", ""),
    )
    messages.success(request, "Incident resolved.")
    return redirect("queue-incidents", slug=slug)
