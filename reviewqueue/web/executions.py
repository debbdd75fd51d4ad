"""Operations pages: dead executions with a Retry button."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from reviewqueue import access
from reviewqueue.exceptions import DomainError, Forbidden, NotFound
from reviewqueue.selectors.executions import dead_executions
from reviewqueue.services.execution import execution_retry
from reviewqueue.web.pages import current_user


@login_required
@require_GET
def dead_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not access.may_read_executions(user):
        raise Http404("No such page.")
    return render(
        request, "reviewqueue/executions/dead.html", {"rows": dead_executions(), "nav": "dead"}
    )


@login_required
@require_POST
def retry(request: HttpRequest, execution_id: int) -> HttpResponse:
    user = current_user(request)
    if not access.may_read_executions(user):  # as the dead list: others do not learn it exists
        raise Http404("No such execution.")
    try:
        execution_retry(execution_id=execution_id, user=user)
        messages.success(request, "Sent back to the workers for another round of attempts.")
    except NotFound:
        raise Http404("No such execution.") from None
    except Forbidden as exc:
        raise PermissionDenied(exc.detail) from None
    except DomainError as exc:
        messages.error(request, exc.detail)
    return redirect("executions-dead")
