"""Every recommendation's page: payload, decision with its diff, execution, audit trail."""

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from reviewqueue.representations import proposal_hidden
from reviewqueue.selectors.timeline import (
    audit_timeline,
    execution_attempts,
    recommendation_for_reader,
)
from reviewqueue.web.pages import current_user


@login_required
@require_GET
def recommendation_detail(request: HttpRequest, recommendation_id: uuid.UUID) -> HttpResponse:
    rec = recommendation_for_reader(user=current_user(request), recommendation_id=recommendation_id)
    context = {
        "rec": rec,
        "blind": proposal_hidden(rec, current_user(request)),
        "decision": getattr(rec, "decision", None),
        "execution": getattr(rec, "execution", None),
        "attempts": execution_attempts(recommendation=rec),
        "events": audit_timeline(recommendation=rec, viewer=current_user(request)),
    }
    return render(request, "reviewqueue/recommendations/detail.html", context)
