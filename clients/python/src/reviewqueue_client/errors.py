"""Typed errors. Every answer of 400 and up becomes one of these, carrying the server's
RFC 9457 problem+json (`type`, `title`, `status`, `detail`, `errors` and any extra field,
e.g. a 409's `reason`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ReviewQueueError(Exception):
    """Base of every error the client raises.

    `status` is the HTTP status (None when no answer came back); `problem` is the whole
    problem+json body; `errors` maps field paths to messages for validation failures.
    """

    status: int | None = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem: dict[str, Any] = dict(problem or {})
        if status is not None:
            self.status = status
        self.detail = detail
        self.type: str | None = self.problem.get("type")
        self.title: str | None = self.problem.get("title")
        raw_errors = self.problem.get("errors")
        self.errors: dict[str, str] = (
            {str(k): str(v) for k, v in raw_errors.items()} if isinstance(raw_errors, dict) else {}
        )

    def __str__(self) -> str:
        text = self.detail
        if self.status is not None:
            text = f"{self.status} {self.title or ''}: {text}".replace(" :", ":")
        if self.errors:
            text += " " + "; ".join(f"{k}: {v}" for k, v in self.errors.items())
        return text


class ValidationError(ReviewQueueError):
    """400: the request is not valid; nothing was stored. See `.errors`."""

    status = 400


class AuthenticationError(ReviewQueueError):
    """401: no key, a bad key, or a revoked or expired one."""

    status = 401


class PermissionDenied(ReviewQueueError):
    """403: the key may not use that queue."""

    status = 403


class NotFound(ReviewQueueError):
    """404: no such item for this source (a source sees only its own items)."""

    status = 404


class Conflict(ReviewQueueError):
    """409: e.g. the same external_id posted with different content. `.reason` is the
    server's machine-readable reason when it gives one."""

    status = 409

    @property
    def reason(self) -> str | None:
        value = self.problem.get("reason")
        return str(value) if value is not None else None


class PayloadTooLarge(ReviewQueueError):
    """413: the body is over the server's limit (256 KiB for one item by default)."""

    status = 413


class UnsupportedMediaType(ReviewQueueError):
    """415: the body was not JSON."""

    status = 415


class RateLimited(ReviewQueueError):
    """429: over the per-key rate. `.retry_after` is the server's hint in seconds."""

    status = 429

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        problem: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail, status=status, problem=problem)
        self.retry_after = retry_after


class ServerError(ReviewQueueError):
    """5xx: the server failed; retried with backoff before it is raised."""

    status = 500


class TransportError(ReviewQueueError):
    """No answer: the connection failed or timed out (after the retries)."""


class DecisionTimeout(ReviewQueueError):
    """wait_for_decision gave up. `.recommendation` is the item as last seen."""

    def __init__(self, detail: str, *, recommendation: Any = None) -> None:
        super().__init__(detail)
        self.recommendation = recommendation


class InvalidSignature(ReviewQueueError):
    """A callback's signature is missing, malformed, too old or wrong. The subclasses say
    which: `SignatureExpired`, `SignatureMismatch`, `SignatureMalformed`."""


class SignatureMalformed(InvalidSignature):
    """No signature headers, no secret to check them with, or headers that do not parse."""


class SignatureExpired(InvalidSignature):
    """The signed timestamp is further from now than the tolerance: a replay, or a clock off."""


class SignatureMismatch(InvalidSignature):
    """No signature matches the body with this secret: the secret is wrong or the body was
    changed (the two cannot be told apart)."""


_BY_STATUS: dict[int, type[ReviewQueueError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    429: RateLimited,
}


def error_for_status(
    status: int,
    problem: Mapping[str, Any] | None = None,
    *,
    detail: str | None = None,
    retry_after: float | None = None,
) -> ReviewQueueError:
    """The typed error for an HTTP status and its problem body (not raised)."""
    problem = dict(problem or {})
    text = detail or str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
    if status == 429:
        return RateLimited(text, status=status, problem=problem, retry_after=retry_after)
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else ReviewQueueError
    return cls(text, status=status, problem=problem)
