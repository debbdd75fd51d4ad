"""Operations endpoints: liveness, readiness, problem+json for API 404s and 500s, and the
503 answer while the database is unreachable."""

import logging
import sys
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.defaults import page_not_found, server_error
from kombu import Connection

from reviewqueue.api.errors import (
    DATABASE_ERRORS,
    DATABASE_RETRY_AFTER_SECONDS,
    problem,
    problem_json,
)

log = logging.getLogger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    # A fresh connection each time: a pooled one could hide a broker that went away.
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=2,
    ) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)


READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "broker": _check_broker,
}


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every dependency answers; else 503 naming the ones that do not. The answer
    names components only: the reason (an address, a driver message) goes to the log, never
    to whoever asks (the endpoint is public)."""
    checks: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception as exc:  # any driver or transport error means "not ready"
            log.warning("readyz: %s unavailable: %s", name, f"{type(exc).__name__}: {exc}"[:300])
            checks[name] = "unavailable"
        else:
            checks[name] = "ok"
    down = [name for name, state in checks.items() if state != "ok"]
    body = {"status": "unavailable" if down else "ready", "checks": checks, "unavailable": down}
    return JsonResponse(body, status=503 if down else 200)


def _problem(status: int, code: str, title: str, detail: str) -> HttpResponse:
    return problem_json(problem(status, detail, code=code, title=title))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _problem(404, "not_found", "Not found", "No API endpoint at this path.")
    return page_not_found(request, exception)


class DatabaseUnavailableMiddleware:
    """A view that cannot reach the database answers 503 (page or problem+json) at once,
    before Django's 500 machinery runs (got_request_exception receivers and logging would
    otherwise ask the database for request.user again). Last in MIDDLEWARE, so it is the
    first to see a view's exception. DRF views answer their own 503 (api/errors.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        log.warning(
            "database unavailable: %s %s: %s",
            request.method,
            request.path,
            str(exception).strip().split("\n")[0],
        )
        return database_unavailable(request)


def server_failure(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception, so sys.exception() is the cause:
    # a database error raised outside a view (in a middleware) still answers 503.
    if isinstance(sys.exception(), DATABASE_ERRORS):
        return database_unavailable(request)
    if request.path.startswith("/api/"):
        return _problem(500, "error", "Server error", "The server failed to answer this request.")
    return server_error(request)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 while PostgreSQL cannot be reached (for pages and anything outside DRF; DRF views
    answer the same through api/errors.py). The page is standalone: no user, no session."""
    # Whatever runs after us (response middleware, log processors) must not ask the database
    # who the user is; it would fail again.
    request.user = AnonymousUser()
    if request.path.startswith("/api/"):
        response = _problem(
            503,
            "database_unavailable",
            "Service unavailable",
            "The database is unavailable. Try again in a few seconds.",
        )
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response
