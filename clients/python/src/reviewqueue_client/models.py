"""What the API sends and takes, as typed dataclasses. Each parsed object keeps the JSON it
came from in `raw`, so fields the server adds later are never out of reach."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

from reviewqueue_client.errors import ReviewQueueError, error_for_status

Outcome = Literal["approve", "modify", "reject"]

# Statuses in which an item still waits for a person (shadow waits for the human outcome).
OPEN_STATUSES = frozenset({"pending", "in_review", "escalated", "shadow"})


class Evidence(TypedDict, total=False):
    title: str  # required by the server
    url: str  # http(s) only
    snippet: str


@dataclass(frozen=True)
class ModelInfo:
    """The model that made a recommendation: both fields are required by the API."""

    name: str
    version: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}

    @classmethod
    def coerce(cls, value: ModelInfo | Mapping[str, str] | tuple[str, str]) -> ModelInfo:
        if isinstance(value, ModelInfo):
            return value
        if isinstance(value, tuple):
            return cls(name=value[0], version=value[1])
        return cls(name=str(value["name"]), version=str(value["version"]))


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def format_time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware (the API speaks UTC).")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Decision:
    """A verdict: by a person (`kind="human"`), the routing policy (`"policy"`, an
    auto-approval) or reported by the source (`"external"`, shadow stage)."""

    kind: str
    outcome: str  # approve | modify | reject
    payload: dict[str, Any] | None  # the final payload (None for reject)
    payload_hash: str
    diff: list[dict[str, Any]]
    is_cosmetic: bool | None
    reason_code: str
    comment: str
    decided_at: datetime | None
    reviewer: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Decision | None:
        if not data:
            return None
        return cls(
            kind=str(data.get("kind", "")),
            outcome=str(data.get("outcome", "")),
            payload=data.get("payload"),
            payload_hash=str(data.get("payload_hash") or ""),
            diff=list(data.get("diff") or []),
            is_cosmetic=data.get("is_cosmetic"),
            reason_code=str(data.get("reason_code") or ""),
            comment=str(data.get("comment") or ""),
            decided_at=parse_time(data.get("decided_at")),
            reviewer=data.get("reviewer"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Execution:
    """The attempt(s) to carry out an approved or modified action."""

    status: str  # pending | running | retrying | succeeded | dead | refused
    attempts: int
    last_error: str
    idempotency_key: str
    finished_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Execution | None:
        if not data:
            return None
        return cls(
            status=str(data.get("status", "")),
            attempts=int(data.get("attempts") or 0),
            last_error=str(data.get("last_error") or ""),
            idempotency_key=str(data.get("idempotency_key") or ""),
            finished_at=parse_time(data.get("finished_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Recommendation:
    """A stored recommendation. `created` is True only on the answer that created it
    (201); a replay of the same external_id (200) and every read give False."""

    id: str
    queue: str
    external_id: str
    status: str  # shadow | pending | in_review | escalated | decided | auto_approved | expired
    route: str  # review | auto | escalated | shadow
    action_type: str
    payload: dict[str, Any]
    confidence: float | None
    risk_score: float | None
    rationale: str
    evidence: list[dict[str, Any]]
    model: ModelInfo | None
    prompt_version: str
    priority: int
    expires_at: datetime | None
    metadata: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None
    lease_expires_at: datetime | None
    decision: Decision | None
    execution: Execution | None
    created: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_open(self) -> bool:
        """Still waiting for a person (pending, in_review, escalated or shadow)."""
        return self.status in OPEN_STATUSES

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, created: bool = False) -> Recommendation:
        action = data.get("action") or {}
        model = data.get("model")
        return cls(
            id=str(data["id"]),
            queue=str(data.get("queue", "")),
            external_id=str(data.get("external_id", "")),
            status=str(data.get("status", "")),
            route=str(data.get("route", "")),
            action_type=str(action.get("type", "")),
            payload=dict(action.get("payload") or {}),
            confidence=data.get("confidence"),
            risk_score=data.get("risk_score"),
            rationale=str(data.get("rationale") or ""),
            evidence=list(data.get("evidence") or []),
            model=ModelInfo.coerce(model) if model and model.get("name") else None,
            prompt_version=str(data.get("prompt_version") or ""),
            priority=int(data.get("priority") or 0),
            expires_at=parse_time(data.get("expires_at")),
            metadata=dict(data.get("metadata") or {}),
            created_at=parse_time(data.get("created_at")),
            updated_at=parse_time(data.get("updated_at")),
            lease_expires_at=parse_time(data.get("lease_expires_at")),
            decision=Decision.from_json(data.get("decision")),
            execution=Execution.from_json(data.get("execution")),
            created=created,
            raw=dict(data),
        )


@dataclass(frozen=True)
class NewRecommendation:
    """A recommendation to submit; `to_json()` is the ingest body of the public API."""

    queue: str
    external_id: str
    action_type: str
    payload: Mapping[str, Any]
    confidence: float
    risk_score: float
    model: ModelInfo | Mapping[str, str] | tuple[str, str]
    rationale: str | None = None
    evidence: Sequence[Evidence | Mapping[str, str]] | None = None
    prompt_version: str | None = None
    priority: int | None = None
    expires_at: datetime | str | None = None
    metadata: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "queue": self.queue,
            "external_id": self.external_id,
            "action": {"type": self.action_type, "payload": dict(self.payload)},
            "confidence": self.confidence,
            "risk_score": self.risk_score,
            "model": ModelInfo.coerce(self.model).to_json(),
        }
        optional: dict[str, Any] = {
            "rationale": self.rationale,
            "evidence": [dict(e) for e in self.evidence] if self.evidence is not None else None,
            "prompt_version": self.prompt_version,
            "priority": self.priority,
            "expires_at": format_time(self.expires_at),
            "metadata": dict(self.metadata) if self.metadata is not None else None,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body


@dataclass(frozen=True)
class BatchItemResult:
    """One item's answer in a batch: `status` is the HTTP status it would have had alone."""

    index: int
    status: int
    id: str | None
    route: str | None
    detail: str | None
    errors: dict[str, str]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def created(self) -> bool:
        return self.status == 201

    @property
    def error(self) -> ReviewQueueError | None:
        """The typed error this item would have raised alone (not raised), or None."""
        if self.ok:
            return None
        problem = {"status": self.status, "detail": self.detail, "errors": self.errors}
        return error_for_status(self.status, problem)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchItemResult:
        return cls(
            index=int(data["index"]),
            status=int(data["status"]),
            id=data.get("id"),
            route=data.get("route"),
            detail=data.get("detail"),
            errors={str(k): str(v) for k, v in (data.get("errors") or {}).items()},
            raw=dict(data),
        )


@dataclass(frozen=True)
class CallbackEvent:
    """A verified callback: `decision.made`, `execution.succeeded` or `execution.dead`.
    `id` is the event id to de-duplicate on (deliveries are retried)."""

    id: str
    type: str
    created_at: datetime | None
    recommendation_id: str
    external_id: str
    queue: str
    status: str
    decision: Decision | None
    execution: Execution | None
    data: dict[str, Any] = field(repr=False, compare=False)
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> CallbackEvent:
        data = dict(body.get("data") or {})
        return cls(
            id=str(body["id"]),
            type=str(body["type"]),
            created_at=parse_time(body.get("created_at")),
            recommendation_id=str(data.get("recommendation_id", "")),
            external_id=str(data.get("external_id", "")),
            queue=str(data.get("queue", "")),
            status=str(data.get("status", "")),
            decision=Decision.from_json(data.get("decision")),
            execution=Execution.from_json(data.get("execution")),
            data=data,
            raw=dict(body),
        )
