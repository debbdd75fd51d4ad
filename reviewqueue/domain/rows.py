"""Unsaved rows that more than one service writes, built in one place: the decision (with the
recommendation's facts copied for metrics) and the execution (the outbox row)."""

from datetime import datetime
from typing import Any

from reviewqueue.models import Decision, Execution, Recommendation, User


def decision_row(
    rec: Recommendation,
    *,
    kind: str,
    outcome: str,
    payload: Any,
    payload_hash: str,
    now: datetime,
    reviewer: User | None = None,
    **fields: Any,
) -> Decision:
    return Decision(
        recommendation=rec,
        kind=kind,
        outcome=outcome,
        payload=payload,
        payload_hash=payload_hash,
        reviewer=reviewer,
        queue=rec.queue,
        action_type=rec.action_type,
        source_id=rec.source_id,
        model_name=rec.model_name,
        model_version=rec.model_version,
        prompt_version=rec.prompt_version,
        created_at=rec.created_at,
        claimed_at=rec.claimed_at,
        decided_at=now,
        flagged=bool(rec.flags),
        **fields,
    )


def execution_row(
    rec: Recommendation, *, payload: Any, payload_hash: str, now: datetime, by_policy: bool
) -> Execution:
    """The same idempotency key on every try, so a retried action never acts twice."""
    return Execution(
        recommendation=rec,
        queue_id=rec.queue_id,
        by_policy=by_policy,
        payload=payload,
        payload_hash=payload_hash,
        idempotency_key=f"rq-{rec.pk}",
        max_attempts=rec.action_type.max_attempts,
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
    )
