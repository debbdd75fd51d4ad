"""The queue overview: the user's queues with their backlog, and their recent decisions."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from reviewqueue import access
from reviewqueue.selectors.queues import queue_rows_for, recent_decisions_for
from reviewqueue.web.pages import current_user


@login_required
@require_GET
def queue_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    context = {
        "rows": queue_rows_for(user=user),
        # Only people who decide have decisions of their own to list.
        "recent": (
            recent_decisions_for(user=user, limit=20) if access.may_review_anything(user) else None
        ),
        "now": timezone.now(),
        "nav": "queues",
    }
    return render(request, "reviewqueue/queues/list.html", context)
