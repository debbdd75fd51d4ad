"""Operations pages: dead executions with a Retry button, and how many notifications are
dead (listed with their errors in the admin)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from reviewqueue import access
from reviewqueue.selectors.executions import dead_executions
from reviewqueue.selectors.notifications import notification_counts
from reviewqueue.services.execution import execution_retry
from reviewqueue.web.errors import errors_back_to
from reviewqueue.web.pages import current_user


@login_required
@require_GET
def dead_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not access.may_read_executions(user):
        raise Http404("No such page.")
    context = {"rows": dead_executions(), "notifications": notification_counts(), "nav": "dead"}
    return render(request, "reviewqueue/executions/dead.html", context)


@login_required
@require_POST
@errors_back_to("executions-dead")
def retry(request: HttpRequest, execution_id: int) -> HttpResponse:
    user = current_user(request)
    if not access.may_read_executions(user):  # as the dead list: others do not learn it exists
        raise Http404("No such execution.")
    execution_retry(execution_id=execution_id, user=user)
    messages.success(request, "Sent back to the workers for another round of attempts.")
    return redirect("executions-dead")
