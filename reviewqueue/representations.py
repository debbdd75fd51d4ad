"""How the API shows things. Plain functions: they run for every item of a response."""

from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist

from reviewqueue.models import Decision, Execution, Recommendation, User
from reviewqueue.states import Route

# What a blind reviewer must not see: the proposal and what would give it away.
BLIND_HIDDEN = ("confidence", "risk_score", "rationale")


def proposal_hidden(rec: Recommendation, user: User) -> bool:
    """Blind review: a reviewer never sees the AI's proposal of a shadow item, before or
    after deciding it (seeing past proposals would teach what the AI tends to say). Admins
    and auditors see it, to study disagreements; the source always sees its own items."""
    return rec.route == Route.SHADOW and not user.can_read_reports


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _related(rec: Recommendation, name: str) -> Any:
    try:
        return getattr(rec, name)
    except ObjectDoesNotExist:
        return None


def decision_repr(decision: Decision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {
        "kind": decision.kind,
        "outcome": decision.outcome,
        "payload": decision.payload,
        "payload_hash": decision.payload_hash,
        "diff": decision.diff,
        "is_cosmetic": decision.is_cosmetic,
        "reason_code": decision.reason_code,
        "comment": decision.comment,
        "decided_at": iso(decision.decided_at),
        "reviewer": decision.reviewer.get_username() if decision.reviewer else None,
    }


def execution_repr(execution: Execution | None) -> dict[str, Any] | None:
    if execution is None:
        return None
    return {
        "status": execution.status,
        "attempts": execution.attempts,
        "last_error": execution.last_error,
        "idempotency_key": execution.idempotency_key,
        "finished_at": iso(execution.finished_at),
    }


def recommendation_repr(rec: Recommendation, *, blind: bool = False) -> dict[str, Any]:
    """The item as the API shows it. `blind` (see proposal_hidden) leaves out the proposed
    payload, confidence, risk score and rationale, and the decision's diff (its old values
    are the proposal); the inputs (evidence, metadata) stay."""
    data = {
        "id": str(rec.id),
        "queue": rec.queue.slug,
        "external_id": rec.external_id,
        "status": rec.status,
        "route": rec.route,
        "action": {"type": rec.action_type.name, "payload": rec.payload},
        "confidence": rec.confidence,
        "risk_score": rec.risk_score,
        "rationale": rec.rationale,
        "evidence": rec.evidence,
        "model": {"name": rec.model_name, "version": rec.model_version},
        "prompt_version": rec.prompt_version,
        "priority": rec.priority,
        "expires_at": iso(rec.expires_at),
        "metadata": rec.metadata,
        "created_at": iso(rec.created_at),
        "updated_at": iso(rec.updated_at),
        "lease_expires_at": iso(rec.lease_expires_at),
        "decision": decision_repr(_related(rec, "decision")),
        "execution": execution_repr(_related(rec, "execution")),
    }
    if blind:
        data["action"] = {"type": rec.action_type.name}
        for key in BLIND_HIDDEN:
            del data[key]
        if data["decision"] is not None:
            del data["decision"]["diff"]
        data["blind"] = True
    return data
