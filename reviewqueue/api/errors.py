"""Errors as RFC 9457 application/problem+json, in one place.

drf-standardized-errors does the work (flattening nested errors, rollback, logging 500s
without leaking details); we shape its output as problem+json with an `errors` object
mapping field paths to messages, and map our domain errors to their HTTP status.
"""

from typing import Any

from drf_standardized_errors.formatter import ExceptionFormatter, flatten_errors
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions, status
from rest_framework.response import Response

from reviewqueue.exceptions import DomainError

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


def problem_response(status_code: int, detail: str, **kwargs: Any) -> Response:
    return Response(
        problem(status_code, detail, **kwargs),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


class ProblemExceptionHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, DomainError):
            return DomainAPIException(exc)
        return super().convert_known_exceptions(exc)

    def get_response(self, exc: exceptions.APIException, data: Any) -> Response:
        response = super().get_response(exc, data)
        response.content_type = PROBLEM_CONTENT_TYPE
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            response["Retry-After"] = str(max(1, int(wait)))
        return response


class ProblemFormatter(ExceptionFormatter):
    def run(self) -> Any:
        exc = self.exc
        status_code = exc.status_code
        if isinstance(exc, DomainAPIException):
            err = exc.error
            return problem(
                status_code,
                err.detail,
                code=err.code,
                title=err.title,
                errors=err.errors,
                **{k: v for k, v in err.extra.items() if v is not None},
            )
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
        if status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
            detail = "The server failed to answer this request. It has been logged."
        return problem(status_code, str(detail), code=str(code) if code else None)
