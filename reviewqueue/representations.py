"""How the API shows things. Plain functions: they run for every item of a response."""

from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from reviewqueue import access
from reviewqueue.models import Decision, Execution, Recommendation, User
from reviewqueue.states import OPEN_STATUSES

# What a blind reviewer must not see: the proposal and what would give it away.
BLIND_HIDDEN = ("confidence", "risk_score", "rationale")


def proposal_hidden(rec: Recommendation, user: User) -> bool:
    """The rule lives in access.py (`access.proposal_hidden`); kept for existing callers.
    The source always sees its own items (it never asks)."""
    return access.proposal_hidden(user, rec)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _overdue(rec: Recommendation) -> bool:
    """Open and past its due time (the SLA sweep's overdue_at may lag by its interval)."""
    if rec.status not in OPEN_STATUSES or rec.due_at is None:
        return False
    return rec.overdue_at is not None or rec.due_at <= timezone.now()


def _related(rec: Recommendation, name: str) -> Any:
    try:
        return getattr(rec, name)
    except ObjectDoesNotExist:
        return None


# The fields decision_repr, blind_decision_repr and execution_repr read: a list of items loads
# only these of each item's decision and execution (selectors/recommendations.shown_fields).
DECISION_SHOWN = (
    "kind", "outcome", "payload", "payload_hash", "diff", "is_cosmetic", "reason_code",
    "comment", "decided_at", "reviewer", "bulk",
)  # fmt: skip
EXECUTION_SHOWN = ("status", "attempts", "last_error", "idempotency_key", "finished_at")


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
        "bulk": decision.bulk,
    }


# A blind decision is shown as "recorded": its outcome (approve vs modify) says whether the
# answer matched the hidden proposal, and for an approve its payload and hash *are* the
# proposal. The reviewer sees their own answer; nobody else who cannot see proposals does.
BLIND_OUTCOME = "recorded"


def blind_decision_repr(decision: Decision | None, viewer: User | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    data: dict[str, Any] = {
        "kind": decision.kind,
        "outcome": BLIND_OUTCOME,
        "reason_code": decision.reason_code,
        "comment": decision.comment,
        "decided_at": iso(decision.decided_at),
        "reviewer": decision.reviewer.get_username() if decision.reviewer else None,
    }
    if viewer is not None and access.may_see_blind_answer(viewer, decision.reviewer_id):
        data["payload"] = decision.payload
    return data


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


def recommendation_repr(
    rec: Recommendation, *, blind: bool = False, viewer: User | None = None
) -> dict[str, Any]:
    """The item as the API shows it. `blind` (see access.proposal_hidden; implied when a
    `viewer` is given who may not see the proposal) leaves out the proposed payload,
    confidence, risk score and rationale, and shows the decision as "recorded" (see
    blind_decision_repr: the viewer's own answer only); the inputs (evidence, metadata) stay."""
    if viewer is not None:
        blind = blind or access.proposal_hidden(viewer, rec)
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
        "due_at": iso(rec.due_at),
        "overdue": _overdue(rec),
        "escalated_at": iso(rec.escalated_at),
        "assigned_to": rec.assigned_to.get_username() if rec.assigned_to else None,
        "reviewers_needed": rec.reviewers_needed,
        "flags": [{"kind": f["kind"], "detail": f["detail"]} for f in rec.flags],
        "decision": decision_repr(_related(rec, "decision")),
        "execution": execution_repr(_related(rec, "execution")),
    }
    if blind:
        data["action"] = {"type": rec.action_type.name}
        for key in BLIND_HIDDEN:
            del data[key]
        data["decision"] = blind_decision_repr(_related(rec, "decision"), viewer)
        # A flag's sentence quotes the hidden numbers (an amount, the confidence): kind only.
        data["flags"] = [{"kind": f["kind"], "detail": ""} for f in rec.flags]
        data["blind"] = True
    return data
