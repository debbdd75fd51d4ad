"""A queue's own page (stage, readiness, stage history, disagreements) with the admin's
advance/demote form, and the QA list where reviewers mark sampled auto-executed items."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from reviewqueue.exceptions import DomainError, Forbidden, NotFound
from reviewqueue.models import Queue
from reviewqueue.selectors.autonomy import (
    qa_counts,
    qa_pending,
    queue_for_reader,
    shadow_disagreements,
    stage_history,
)
from reviewqueue.selectors.queues import review_item
from reviewqueue.services.qa import qa_review_record
from reviewqueue.services.stages import readiness_snapshot, stage_change
from reviewqueue.states import STAGE_ORDER, Stage
from reviewqueue.web.pages import current_user


def _queue(request: HttpRequest, slug: str) -> Queue:
    try:
        return queue_for_reader(user=current_user(request), slug=slug)
    except NotFound:
        raise Http404("No such queue.") from None


def _queue_page(
    request: HttpRequest, queue: Queue, error: DomainError | None = None, status: int = 200
) -> HttpResponse:
    user = current_user(request)
    here = STAGE_ORDER.index(Stage(queue.stage))
    context = {
        "queue": queue,
        "readiness": readiness_snapshot(queue=queue),
        "history": stage_history(queue=queue),
        "advance_to": STAGE_ORDER[here + 1].value if here + 1 < len(STAGE_ORDER) else None,
        "demote_to": [s.value for s in STAGE_ORDER[:here]],
        "qa": qa_counts(queue=queue),
        "disagreements": shadow_disagreements(queue=queue) if user.can_read_reports else None,
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
def qa_verdict(request: HttpRequest, slug: str, recommendation_id: uuid.UUID) -> HttpResponse:
    queue = _queue(request, slug)
    if review_item(queue=queue, recommendation_id=recommendation_id) is None:
        raise Http404("No such item in this queue.")
    try:
        qa_review_record(
            user=current_user(request),
            recommendation_id=recommendation_id,
            verdict=request.POST.get("verdict", ""),
            reason_code=request.POST.get("reason_code", ""),
            comment=request.POST.get("comment", ""),
        )
    except NotFound:
        raise Http404("No such item.") from None
    except Forbidden as exc:  # admins and auditors read the queue; only members give verdicts
        raise PermissionDenied(exc.detail) from None
    except DomainError as exc:
        messages.error(request, exc.detail + " " + " ".join((exc.errors or {}).values()))
        return redirect("queue-qa", slug=queue.slug)
    messages.success(request, "QA verdict recorded.")
    return redirect("queue-qa", slug=queue.slug)
