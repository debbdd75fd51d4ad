"""Executors carry an approved action to the target system. They never touch the ORM."""

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ActionRequest:
    action_type: str
    url: str
    payload: dict[str, Any]
    recommendation_id: str
    idempotency_key: str
    secret: str | None
    timeout: float
    # time.monotonic() by which the executor must have returned and stopped sending: the
    # attempt's lease ends a grace period later, and then another attempt may start.
    deadline: float


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    transient: bool = False  # retry later
    http_status: int | None = None
    # Short and ours (the HTTP status and its standard phrase, an error class): shown to the
    # source, reviewers and the audit trail. Never text the target wrote.
    error: str = ""
    retry_after: float | None = None  # seconds, from the target's Retry-After
    # The target's response body (at most 64 KiB) or the exception: for admins only.
    detail: str = ""


class Executor(Protocol):
    def __call__(self, request: ActionRequest) -> ActionResult: ...
