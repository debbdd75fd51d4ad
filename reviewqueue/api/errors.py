"""Errors as RFC 9457 application/problem+json, in one place.

drf-standardized-errors does the work (flattening nested errors, rollback, logging 500s
without leaking details); we shape its output as problem+json with an `errors` object
mapping field paths to messages, and map our domain errors to their HTTP status.

A database that cannot be reached (PostgreSQL restarting, a dropped connection) is a `503`
with `Retry-After`, not a `500`: retrying is right. Success is only ever answered after the
commit returned; if a commit went through but its acknowledgement was lost, the retry of an
ingest answers `200` with the stored item (idempotent by `external_id`). Django drops the
broken connection at the end of the request and the next request connects afresh
(conn_health_checks), so the processes recover by themselves. Pages get the same status
from web/ops.py.
"""

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from drf_standardized_errors.formatter import ExceptionFormatter, flatten_errors
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions, status
from rest_framework.response import Response

from reviewqueue.exceptions import DomainError

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Problem types are URNs: stable identifiers clients can switch on, not links.
TYPE_BASE = "urn:reviewqueue:problem:"

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Server error",
    503: "Service unavailable",
}


# Raised by the driver when the server is unreachable or the connection broke; psycopg also
# classes transient server conditions (deadlock, lock or statement timeout) as
# OperationalError: "try again shortly" is the right answer to all of them.
DATABASE_ERRORS = (OperationalError, InterfaceError)
DATABASE_RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable. Try again in a few seconds."
    default_code = "database_unavailable"


class DomainAPIException(exceptions.APIException):
    """A DomainError carried through DRF with its own status, title and errors."""

    def __init__(self, error: DomainError):
        self.status_code = error.status_code
        self.error = error
        super().__init__(detail=error.detail, code=error.code)


def problem(
    status_code: int,
    detail: str,
    *,
    code: str | None = None,
    title: str | None = None,
    errors: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (code or "error"),
        "title": title or _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def domain_problem(error: DomainError) -> dict[str, Any]:
    """The problem+json body of a domain error, the same inside DRF and outside it."""
    return problem(
        error.status_code,
        error.detail,
        code=error.code,
        title=error.title,
        errors=error.errors,
        **{k: v for k, v in error.extra.items() if v is not None},
    )


def problem_json(body: dict[str, Any]) -> JsonResponse:
    """A problem body answered outside DRF (middleware, Django's error handlers)."""
    return JsonResponse(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)


class ProblemExceptionHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, DomainError):
            return DomainAPIException(exc)
        if isinstance(exc, DATABASE_ERRORS):
            return DatabaseUnavailable()
        return super().convert_known_exceptions(exc)

    def get_response(self, exc: exceptions.APIException, data: Any) -> Response:
        response = super().get_response(exc, data)
        response.content_type = PROBLEM_CONTENT_TYPE
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            response["Retry-After"] = str(max(1, int(wait)))
        if isinstance(exc, DatabaseUnavailable):
            response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response

    def report_exception(self, exc: exceptions.APIException, response: Response) -> None:
        if isinstance(exc, DatabaseUnavailable):
            # An outage, not a bug: one line per request, no traceback.
            request = getattr(self.context.get("request"), "_request", None)
            log.warning(
                "database unavailable: %s %s: %s",
                getattr(request, "method", "?"),
                getattr(request, "path", "?"),
                str(self.exc).strip().splitlines()[0] if str(self.exc).strip() else "",
            )
            return
        super().report_exception(exc, response)


class ProblemFormatter(ExceptionFormatter):
    def run(self) -> Any:
        exc = self.exc
        status_code = exc.status_code
        if isinstance(exc, DomainAPIException):
            return domain_problem(exc.error)
        if isinstance(exc, exceptions.ValidationError):
            errors: dict[str, str] = {}
            for item in flatten_errors(exc.detail):
                key = item.attr or "body"
                errors[key] = f"{errors[key]} {item.detail}" if key in errors else item.detail
            return problem(
                status_code,
                "The request is not valid.",
                code="validation_error",
                title="Validation failed",
                errors=errors,
            )
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else None
        if status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR and not isinstance(
            exc, DatabaseUnavailable
        ):
            detail = "The server failed to answer this request. It has been logged."
        return problem(status_code, str(detail), code=str(code) if code else None)
