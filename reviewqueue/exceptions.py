"""Domain errors. Each carries the HTTP status the API answers with; services raise them,
the API's exception handler turns them into problem+json."""

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra


class ValidationFailed(DomainError):
    status_code = 400
    code = "validation_error"
    title = "Validation failed"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    title = "Forbidden"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class IdempotencyConflict(Conflict):
    code = "external_id_conflict"
    title = "external_id already used with different content"


class LeaseLost(Conflict):
    code = "lease_lost"
    title = "This item is not yours to decide"


class IllegalMove(Conflict):
    code = "illegal_transition"
    title = "That change is not allowed in the item's current state"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"
    title = "Request body too large"


class ConfigError(Exception):
    """apply_config found problems; nothing was changed. `problems` lists every one."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems
