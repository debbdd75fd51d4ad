"""Operations endpoints: liveness, readiness, and problem+json for API 404s and 500s."""

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.defaults import page_not_found, server_error
from kombu import Connection

log = logging.getLogger(__name__)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        return f"{type(exc).__name__}: {exc}".strip()[:300]
    return None


def _check_broker() -> str | None:
    try:
        # A fresh connection each time: a pooled one could hide a broker that went away.
        with Connection(
            settings.CELERY_BROKER_URL,
            transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            connect_timeout=2,
        ) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception as exc:  # kombu raises many types; all mean "not ready"
        return f"{type(exc).__name__}: {exc}".strip()[:300]
    return None


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database(), "broker": _check_broker()}
    ready = all(v is None for v in checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {name: ("ok" if err is None else err) for name, err in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)


def _problem(status: int, code: str, title: str, detail: str) -> HttpResponse:
    return JsonResponse(
        {
            "type": f"urn:reviewqueue:problem:{code}",
            "title": title,
            "status": status,
            "detail": detail,
        },
        status=status,
        content_type="application/problem+json",
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _problem(404, "not_found", "Not found", "No API endpoint at this path.")
    return page_not_found(request, exception)  # type: ignore[arg-type]


def server_failure(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _problem(500, "error", "Server error", "The server failed to answer this request.")
    return server_error(request)
