"""Fixtures for the metrics tests: decisions with chosen times, built the way the services
build them (ingest, then domain.rows.decision_row) with the timestamps set by hand."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from reviewqueue.domain.rows import decision_row
from reviewqueue.models import Decision, Queue, Recommendation, Source, User
from reviewqueue.services.ingest import recommendation_ingest
from tests.conftest import item

_numbers = itertools.count(1)


def at(text: str) -> datetime:
    """'2026-10-01T12:00:00' (UTC) as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ingest(
    source: Source, queue: Queue, *, created_at: datetime | None = None, **overrides: Any
) -> Recommendation:
    body = item(external_id=f"metrics-{next(_numbers)}", queue=queue.slug, **overrides)
    rec, _ = recommendation_ingest(source=source, data=body)
    if created_at is not None:
        Recommendation.objects.filter(pk=rec.pk).update(created_at=created_at)
        rec.created_at = created_at
    return rec


def decide(
    world: Any,
    *,
    decided_at: datetime,
    outcome: str = "approve",
    seconds: float = 60.0,
    review_seconds: float | None = 30.0,
    kind: str = "human",
    reviewer: User | None = None,
    queue: Queue | None = None,
    source: Source | None = None,
    model: dict[str, str] | None = None,
    prompt_version: str | None = None,
    reason_code: str = "",
    diff: list[dict[str, Any]] | None = None,
    is_cosmetic: bool | None = None,
    payload: Any = None,
) -> Decision:
    """A decision `seconds` after its item arrived, `review_seconds` after it was claimed."""
    queue = queue or world.queue
    source = source or (world.source if queue == world.queue else world.other_source)
    overrides: dict[str, Any] = {}
    if model is not None:
        overrides["model"] = model
    if prompt_version is not None:
        overrides["prompt_version"] = prompt_version
    rec = ingest(source, queue, created_at=decided_at - timedelta(seconds=seconds), **overrides)
    claimed_at = None if review_seconds is None else decided_at - timedelta(seconds=review_seconds)
    rec.claimed_at = claimed_at
    status = "auto_approved" if kind == "policy" else "decided"
    Recommendation.objects.filter(pk=rec.pk).update(
        status=status, claimed_at=claimed_at, closed_at=decided_at
    )
    if payload is None and outcome != "reject":
        payload = rec.payload
    decision = decision_row(
        rec,
        kind=kind,
        outcome=outcome,
        payload=payload,
        payload_hash="",
        now=decided_at,
        reviewer=reviewer,
        reason_code=reason_code,
        diff=diff or [],
        is_cosmetic=is_cosmetic,
    )
    decision.save(force_insert=True)
    return decision
