"""Input that no view gets to see, refused in one place before sessions, sign-in and views:

- a NUL character in a query parameter, a page's form field or the session or CSRF cookie
  (in a name or a value): PostgreSQL's text refuses NUL, so a lookup with one was a 500. It is
  a 400 naming the field. Only a crafted request carries one (browsers and gunicorn refuse raw
  control characters; a cookie can still spell one as the octal escape `\\000`).
- a body over DATA_UPLOAD_MAX_MEMORY_SIZE: Django raises RequestDataTooBig when anything reads
  it, and DRF reads the whole body before our parser sees it, so the API answered 500. 413.
- more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS, or a broken multipart body: 400.

The API answers problem+json shaped by api/errors.py, as every other API error; pages answer
the plain templates/400.html. JSON bodies are the API parser's to check (api/parsers.py: NUL,
lone surrogates, depth, and each view's own size limit); the API reads no forms (a form body
is a 415 there), so only pages have their form fields read here.
"""

import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string

from reviewqueue.api.errors import domain_problem, problem_json
from reviewqueue.api.parsers import too_large
from reviewqueue.exceptions import DomainError, ValidationFailed

log = logging.getLogger(__name__)

NUL = "\x00"
NUL_IN_VALUE = "NUL characters are not allowed."
NUL_IN_NAME = "NUL characters are not allowed in a field name."


def _named(name: str) -> str:
    # The field as the answer names it: readable, and without the NUL itself.
    return name.replace(NUL, "\\u0000")


def _nul_errors(fields: Iterable[tuple[str, list[str]]], prefix: str = "") -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, values in fields:
        if NUL in name:
            errors[prefix + _named(name)] = NUL_IN_NAME
        elif any(NUL in value for value in values if isinstance(value, str)):
            errors[prefix + name] = NUL_IN_VALUE
    return errors


def _checked_cookies() -> tuple[str, ...]:
    # The cookies Django itself reads; only the session key reaches the database.
    return (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)


def _fields(request: HttpRequest, where: str) -> dict[str, str]:
    """NUL errors of the query (`where="query"`) or the form; raises what Django raises when
    it cannot read them."""
    if where == "query":
        return _nul_errors(request.GET.lists())
    return _nul_errors(request.POST.lists())


def refusal(request: HttpRequest) -> DomainError | None:
    """What is wrong with this request before any view may see it, or None."""
    is_api = request.path.startswith("/api/")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # Multipart counts only its form fields toward the limit (Django checks those itself,
    # when the form is read below); anything else is what request.body would refuse to read.
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and declared > limit and request.content_type != "multipart/form-data":
        return too_large(limit)
    errors: dict[str, str] = {}
    for where in ("query", "form") if request.method == "POST" and not is_api else ("query",):
        try:
            errors |= _fields(request, where)
        except RequestDataTooBig:
            return too_large(limit or 0)
        except TooManyFieldsSent:
            errors[where] = f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields."
        except (SuspiciousOperation, BadRequest, MultiPartParserError):
            errors[where] = "The form cannot be read."
    errors |= _nul_errors(
        ((name, [value]) for name, value in request.COOKIES.items() if name in _checked_cookies()),
        prefix="cookie.",
    )
    if errors:
        return ValidationFailed("The request is not valid.", errors=errors)
    return None


def refused(request: HttpRequest, error: DomainError) -> HttpResponse:
    log.info(
        "refused input: %s %s: %s %s",
        request.method,
        request.path,
        error.status_code,
        ", ".join(error.errors or {}) or error.detail,
    )
    if request.path.startswith("/api/"):
        return problem_json(domain_problem(error))
    page = render_to_string(
        "400.html", {"title": error.title, "detail": error.detail, "errors": error.errors}
    )
    return HttpResponse(page, status=error.status_code)


class BadInputMiddleware:
    """Early in MIDDLEWARE: after the request log (so refusals are logged with their request
    id), before sessions and authentication (a NUL session key must not reach the database)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if error := refusal(request):
            return refused(request, error)
        return self.get_response(request)
