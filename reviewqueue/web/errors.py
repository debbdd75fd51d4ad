"""One mapping of domain errors to answers for the pages, as api/errors.py is for the API.

- `DomainErrorMiddleware` (settings.MIDDLEWARE): a service's NotFound becomes the 404 page,
  Forbidden the 403 page with its reason, and any other domain error (a 409 Conflict, a 400
  ValidationFailed) a page that says what happened, with its status. API views never reach
  it: DRF answers their errors itself (problem+json).
- `@errors_back_to("queue")`: for form posts whose page shows messages: the error's text
  becomes a message and the browser goes back to the named page (303), as a success does.

Views catch a domain error themselves only to show it inside a form they render again (the
decision form, the stage move, the incident form, the report filters).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.handlers.exception import response_for_exception
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from reviewqueue.exceptions import DomainError, Forbidden, NotFound


def error_text(exc: DomainError) -> str:
    """The detail and every field error, as one line for a message."""
    return " ".join([exc.detail, *(exc.errors or {}).values()])


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFound):
            return response_for_exception(request, Http404(exception.detail))
        if isinstance(exception, Forbidden):
            return response_for_exception(request, PermissionDenied(exception.detail))
        if isinstance(exception, DomainError):
            context = {
                "title": exception.title,
                "detail": exception.detail,
                "errors": exception.errors,
            }
            return render(request, "400.html", context, status=exception.status_code)
        return None


def errors_back_to(
    name: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A form post's domain errors (other than 404 and 403, which the middleware answers)
    become an error message and a redirect to the page named `name` (URL name), reversed
    with the view's `slug` when it has one."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                messages.error(request, error_text(exc))
                slug = kwargs.get("slug")
                return redirect(name, slug=slug) if slug else redirect(name)

        return wrapper

    return decorate
