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


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    transient: bool = False  # retry later
    http_status: int | None = None
    error: str = ""
    retry_after: float | None = None  # seconds, from the target's Retry-After


class Executor(Protocol):
    def __call__(self, request: ActionRequest) -> ActionResult: ...
