"""Ingest: validate, route and store recommendations, one or a batch, each judged alone.

The only code that creates a Recommendation. A single create is one transaction: the
queue's routing state read share-locked (so a breaker trip or a stage move applies from the
very next item, selectors/targets.py), then the recommendation and its audit event in one
INSERT; plus the key lookup and a target lookup at most once per source every few seconds.
In a supervised or autonomous queue that configures anomaly flags, the flags' inputs are
the action type's baselines (in the same statement as the routing state) and, for
max_per_5min, the source's volume (one counter statement just before the transaction,
services/ratelimit.py); domain/flags.py decides. A flagged item waits
for people. An auto-routed item adds its policy decision and execution row (the outbox). Replays
are settled by the unique (source, external_id) constraint, so concurrent posts of one
external_id create one row whatever the timing.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from reviewqueue import contracts
from reviewqueue.domain.flags import (
    VOLUME_SECONDS,
    Flag,
    flags_apply,
    flags_for,
)
from reviewqueue.domain.routing import INITIAL_STATUS, effective_stage, route_for
from reviewqueue.domain.rows import decision_row, execution_row
from reviewqueue.exceptions import DomainError, Forbidden, IdempotencyConflict, ValidationFailed
from reviewqueue.lib.bulk import bulk_insert, insert_together, new_row
from reviewqueue.lib.canonical import content_hash
from reviewqueue.lib.ids import uuid7
from reviewqueue.lib.schema import FastValidator
from reviewqueue.models import (
    ActionType,
    AuditEvent,
    Decision,
    Execution,
    Queue,
    Recommendation,
    Source,
    SourceQueue,
)
from reviewqueue.observability import metrics
from reviewqueue.observability.context import bind_recommendation
from reviewqueue.selectors.targets import Baselines, Targets, routing_lock, targets_for
from reviewqueue.services.audit import Actor, audit_event, audit_recommendations
from reviewqueue.services.callbacks import callback_event
from reviewqueue.services.notifications import notify_escalated
from reviewqueue.services.outbox import EXECUTE_ACTION, publish_on_commit, task_send
from reviewqueue.services.qa import qa_should_sample
from reviewqueue.services.ratelimit import volume_count
from reviewqueue.states import DecisionKind, Outcome, Route

_ITEM_VALIDATOR = FastValidator(contracts.INGEST_ITEM)


@dataclass
class Prepared:
    index: int
    recommendation: Recommendation
    decision: Decision | None
    execution: Execution | None


@dataclass
class ItemResult:
    index: int
    status: int
    recommendation_id: str | None = None
    route: str | None = None
    errors: dict[str, str] | None = None
    detail: str | None = None


def _target_error(source: Source, slug: str, action_name: str) -> DomainError:
    """Why (slug, action_name) is not a target; only runs on the error path."""
    queue = Queue.objects.filter(slug=slug).first()
    if queue is None:
        return ValidationFailed(
            f"There is no queue '{slug}'.", errors={"queue": f"Unknown queue '{slug}'."}
        )
    if not SourceQueue.objects.filter(source=source, queue=queue).exists():
        return Forbidden(f"Source '{source.name}' may not post to queue '{slug}'.")
    return ValidationFailed(
        f"Queue '{slug}' does not take action type '{action_name}'.",
        errors={"action.type": f"Unknown action type '{action_name}' for queue '{slug}'."},
    )


_payload_validators: dict[tuple[int, str], FastValidator] = {}


def _payload_validator(action_type: ActionType) -> FastValidator:
    key = (action_type.pk, action_type.updated_at.isoformat())
    validator = _payload_validators.get(key)
    if validator is None:
        validator = _payload_validators[key] = FastValidator(action_type.payload_schema)
    return validator


def _parse_expiry(value: Any) -> tuple[datetime | None, str | None]:
    if value is None:
        return None, None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None, "Must be an ISO 8601 date-time, e.g. 2026-11-23T12:00:00Z."
    if parsed.tzinfo is None:
        return None, "Must include a time zone, e.g. 2026-11-23T12:00:00Z."
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        return None, "Must be a date-time between years 1 and 9999 in UTC."
    return parsed, None


@dataclass
class Checked:
    """An item that passed validation; routed and built into rows inside the store's
    transaction, where the queue's routing state is read (selectors/targets.routing_lock)."""

    index: int
    data: dict[str, Any]
    queue: Queue
    action_type: ActionType
    expires_at: datetime | None
    content_hash: str


def _check(
    *,
    index: int,
    source: Source,
    data: Any,
    targets: Targets,
    target_errors: dict[tuple[str, str], DomainError],
) -> Checked | DomainError:
    """Every field error at once: the envelope, the target and the payload against its
    action type's schema are all judged, whichever fails first."""
    if not isinstance(data, dict):
        return ValidationFailed(
            "Each item must be a JSON object.", errors={"body": "Must be an object."}
        )
    errors = _ITEM_VALIDATOR.errors(data)
    action = data.get("action")
    slug = data.get("queue")
    name = action.get("type") if isinstance(action, dict) else None
    payload = action.get("payload") if isinstance(action, dict) else None
    target = None
    # The target is looked up only when its names passed the envelope (e.g. not too long).
    names_valid = not {"queue", "action", "action.type"} & errors.keys()
    if names_valid and isinstance(slug, str) and isinstance(name, str):
        key = (slug, name)
        target = targets.get(key)
        if target is None:
            if key not in target_errors:
                target_errors[key] = _target_error(source, *key)
            refusal = target_errors[key]
            if not isinstance(refusal, ValidationFailed):
                # Forbidden: the source learns nothing about that queue's schema.
                if errors:
                    return ValidationFailed("The recommendation is not valid.", errors=errors)
                return refusal
            errors.update(refusal.errors or {})
    if target is not None and isinstance(payload, dict):
        errors.update(_payload_validator(target[1]).errors(payload, prefix="action.payload"))
    expires_at = None
    raw_expiry = data.get("expires_at")
    if isinstance(raw_expiry, str) and "expires_at" not in errors:
        expires_at, expiry_error = _parse_expiry(raw_expiry)
        if expiry_error:
            errors["expires_at"] = expiry_error
    if errors:
        only_payload = all(path.startswith("action.payload") for path in errors)
        return ValidationFailed(
            "The recommendation does not match its action type's schema."
            if only_payload
            else "The recommendation is not valid.",
            errors=errors,
        )
    assert target is not None  # a valid envelope names a target, or an error was returned
    return Checked(
        index=index,
        data=data,
        queue=target[0],
        action_type=target[1],
        expires_at=expires_at,
        content_hash=content_hash(data),
    )


@dataclass
class FlagInputs:
    """What the anomaly flags of one store's items compare with."""

    baselines: Baselines
    # queue id -> the source's items there in the last 5 minutes before this store's own
    volumes: dict[int, int]


def _volumes_counted(checked: list[Checked], source: Source, now: datetime) -> dict[int, int]:
    """Count this store's items per queue that sets max_per_5min (by the targets' row: at
    most a few seconds old) in the sliding volume counter, before the store's transaction
    (services/ratelimit.volume_count), and return each queue's volume before them."""
    items = Counter(c.queue.pk for c in checked if c.queue.max_per_5min is not None)
    totals = volume_count(source_id=source.pk, items=items, seconds=VOLUME_SECONDS, now=now)
    return {pk: total - items[pk] for pk, total in (totals or {}).items()}


def _flags(checked: Checked, queue: Queue, source: Source, inputs: FlagInputs) -> list[Flag]:
    if not flags_apply(effective_stage(queue)):
        return []
    data, action_type = checked.data, checked.action_type
    recent = None
    if queue.pk in inputs.volumes:
        inputs.volumes[queue.pk] += 1  # this item; a batch's items count one after another
        recent = inputs.volumes[queue.pk]
    return flags_for(
        queue=queue,
        action=action_type.name,
        confidence=float(data["confidence"]),
        risk=float(data["risk_score"]),
        payload=data["action"]["payload"],
        baselines=inputs.baselines.get((queue.pk, action_type.pk), {}),
        recent=recent,
        source=source.name,
    )


def _build(
    checked: Checked, queue: Queue, source: Source, now: datetime, flags: list[Flag]
) -> Prepared:
    """Route one checked item by `queue` (its routing state as read in this transaction) and
    its anomaly flags, and build its rows."""
    data, action_type = checked.data, checked.action_type
    payload = data["action"]["payload"]
    confidence, risk = float(data["confidence"]), float(data["risk_score"])
    route = route_for(
        queue=queue, action_type=action_type, confidence=confidence, risk=risk, flags=flags
    )
    waits_for_people = route in (Route.REVIEW, Route.ESCALATED)
    rec = new_row(
        Recommendation,
        id=uuid7(),
        source=source,
        queue=queue,
        action_type=action_type,
        external_id=data["external_id"],
        content_hash=checked.content_hash,
        payload=payload,
        confidence=confidence,
        risk_score=risk,
        rationale=data.get("rationale", ""),
        evidence=data.get("evidence", []),
        model_name=data["model"]["name"],
        model_version=data["model"]["version"],
        prompt_version=data.get("prompt_version", ""),
        priority=data.get("priority", 0),
        expires_at=checked.expires_at,
        metadata=data.get("metadata", {}),
        flags=flags,
        route=route,
        status=INITIAL_STATUS[route],
        created_at=now,
        updated_at=now,
        due_at=now + timedelta(minutes=queue.sla_minutes)
        if waits_for_people and queue.sla_minutes
        else None,
        escalated_at=now if route == Route.ESCALATED else None,
        # Consensus: the item keeps the rule it arrived under (services/consensus.py).
        reviewers_needed=queue.reviewers_per_item,
        closed_at=now if route == Route.AUTO else None,
        # Decided in Python before the insert, so sampling costs no statement.
        qa_sampled=route == Route.AUTO and qa_should_sample(queue.qa_sample_rate),
    )
    decision = execution = None
    if route == Route.AUTO:
        payload_hash = content_hash(payload)
        decision = decision_row(
            rec,
            kind=DecisionKind.POLICY,
            outcome=Outcome.APPROVE,
            payload=payload,
            payload_hash=payload_hash,
            now=now,
        )
        execution = execution_row(
            rec, payload=payload, payload_hash=payload_hash, now=now, by_policy=True
        )
    return Prepared(index=checked.index, recommendation=rec, decision=decision, execution=execution)


# The recommendation's fields a `recommendation.created` event records, for one item
# (`_audit_created`) and for a batch (read from the stored rows by the audit writer).
_CREATED_DATA = (
    "external_id",
    "route",
    "status",
    "content_hash",
    "confidence",
    "risk_score",
    "qa_sampled",
    "flags",
)


def _audit_created(p: Prepared, actor: Actor) -> AuditEvent:
    rec = p.recommendation
    return audit_event(
        action="recommendation.created",
        actor=actor,
        recommendation=rec,
        data={name: getattr(rec, name) for name in _CREATED_DATA},
    )


def _store(checked: list[Checked], source: Source, now: datetime) -> list[Prepared]:
    """Route and write freshly checked items in one transaction.

    The queues' routing state is read first, share-locked (selectors/targets.routing_lock):
    a breaker trip or a stage move waits for this transaction, and this one for theirs, so
    no item is routed by a state that was already replaced when it commits. The common
    single item (no policy decision) is then one statement: the recommendation and its audit
    event together (lib/bulk.insert_together). Batches go by COPY.
    """
    if not checked:
        return []
    actor = Actor.of_source(source)
    volumes = _volumes_counted(checked, source, now)
    with transaction.atomic():
        routing = routing_lock(list({c.queue.pk: c.queue for c in checked}.values()))
        queues = routing.queues
        inputs = FlagInputs(baselines=routing.baselines, volumes=volumes)
        prepared = [
            _build(
                c, queues[c.queue.pk], source, now, _flags(c, queues[c.queue.pk], source, inputs)
            )
            for c in checked
        ]
        if len(prepared) == 1 and prepared[0].decision is None:
            insert_together([prepared[0].recommendation, _audit_created(prepared[0], actor)])
            _notify_escalated(prepared)
            return prepared
        insert = bulk_insert if len(prepared) > 1 else _insert_one
        insert(Recommendation, [p.recommendation for p in prepared])
        decisions = [p.decision for p in prepared if p.decision is not None]
        executions = [p.execution for p in prepared if p.execution is not None]
        if decisions:
            Decision.objects.bulk_create(decisions)
        if executions:
            Execution.objects.bulk_create(executions)
            ids = [e.pk for e in executions]

            def send_all() -> None:
                for pk in ids:
                    task_send(EXECUTE_ACTION, pk)

            publish_on_commit(send_all, f"{len(ids)} auto executions")
            for p in prepared:
                if p.decision is not None:
                    callback_event(
                        recommendation=p.recommendation,
                        source=source,
                        event_type="decision.made",
                        decision=p.decision,
                        execution=p.execution,
                    )
        audit_recommendations(
            action="recommendation.created",
            actor=actor,
            recommendations=[p.recommendation for p in prepared],
            data_fields=_CREATED_DATA,
            at=now,
        )
        _notify_escalated(prepared)
    return prepared


def _notify_escalated(prepared: list[Prepared]) -> None:
    """Items routed straight to the seniors are escalations like any other: their takers and
    the chat hear of them (rows in this transaction; nothing for the other routes)."""
    escalated = [p.recommendation for p in prepared if p.recommendation.route == Route.ESCALATED]
    if escalated:
        notify_escalated(escalated, reason="routed to senior review")


def _insert_one(model: type[Model], objs: list[Any]) -> None:
    model._default_manager.bulk_create(objs)


def _prime(rec: Recommendation, decision: Decision | None, execution: Execution | None) -> None:
    # A fresh item's related rows are known; caching them spares the representation a query.
    Recommendation.decision.related.set_cached_value(rec, decision)
    Recommendation.execution.related.set_cached_value(rec, execution)


def recommendation_ingest(*, source: Source, data: Any) -> tuple[Recommendation, bool]:
    """Create one recommendation, or return the stored one for an identical replay.

    Returns (recommendation, created). Raises ValidationFailed (400, nothing stored, every
    field error at once), Forbidden (403, queue not allowed for the source) or
    IdempotencyConflict (409, the external_id was used with different content).
    Audited: `recommendation.created`.
    """
    now = timezone.now()
    targets = targets_for(source)
    checked = _check(index=0, source=source, data=data, targets=targets, target_errors={})
    if isinstance(checked, DomainError):
        metrics.ingest_refused(data, targets, checked)
        raise checked
    try:
        (prepared,) = _store([checked], source, now)
    except IntegrityError:
        existing = (
            Recommendation.objects.select_related(
                "queue", "action_type", "decision__reviewer", "execution"
            )
            .filter(source=source, external_id=checked.data["external_id"])
            .first()
        )
        if existing is None:
            raise
        slug = checked.queue.slug
        if existing.content_hash != checked.content_hash:
            metrics.ingested(slug, "conflict")
            raise IdempotencyConflict(
                f"external_id '{existing.external_id}' was already used with different content.",
                id=str(existing.id),
            ) from None
        metrics.ingested(slug, "replayed")
        return existing, False
    rec = prepared.recommendation
    metrics.ingested(rec.queue.slug, "created")
    bind_recommendation(rec.pk)
    _prime(rec, prepared.decision, prepared.execution)
    return rec, True


def recommendation_ingest_batch(*, source: Source, items: list[Any]) -> list[ItemResult]:
    """Judge each item alone with the single-item rules; store the valid, new ones together.

    An external_id repeated inside the batch is a replay of its first occurrence. If a
    concurrent request wins a race for some external_id, the batch looks again (bounded).
    """
    now = timezone.now()
    targets = targets_for(source)
    target_errors: dict[tuple[str, str], DomainError] = {}
    results: list[ItemResult | None] = [None] * len(items)
    valid: list[Checked] = []
    for index, data in enumerate(items):
        checked = _check(
            index=index, source=source, data=data, targets=targets, target_errors=target_errors
        )
        if isinstance(checked, DomainError):
            results[index] = ItemResult(
                index=index,
                status=checked.status_code,
                errors=checked.errors,
                detail=checked.detail,
            )
        else:
            valid.append(checked)

    for _attempt in range(5):
        existing = {
            ext: (str(pk), digest, route)
            for ext, pk, digest, route in Recommendation.objects.filter(
                source=source, external_id__in=[c.data["external_id"] for c in valid]
            ).values_list("external_id", "id", "content_hash", "route")
        }
        settled: dict[int, ItemResult] = {}
        fresh: list[Checked] = []
        repeats: list[tuple[Checked, Checked]] = []  # (repeat, its first occurrence)
        first_seen: dict[str, Checked] = {}
        for c in valid:
            ext = c.data["external_id"]
            if ext in existing:
                pk, digest, route = existing[ext]
                settled[c.index] = _replay_result(c, pk, digest, route)
            elif ext in first_seen:
                repeats.append((c, first_seen[ext]))
            else:
                first_seen[ext] = c
                fresh.append(c)
        try:
            stored = _store(fresh, source, now)
        except IntegrityError:
            continue
        by_index = {p.index: p.recommendation for p in stored}
        for p in stored:
            rec = p.recommendation
            settled[p.index] = ItemResult(
                index=p.index, status=201, recommendation_id=str(rec.id), route=rec.route
            )
        for c, first in repeats:
            rec = by_index[first.index]
            settled[c.index] = _replay_result(c, str(rec.id), rec.content_hash, rec.route)
        for index, result in settled.items():
            results[index] = result
        break
    else:  # pragma: no cover - five lost races in a row
        raise IdempotencyConflict("The batch kept racing with concurrent writers; post it again.")
    metrics.batch_ingested(items, results, targets)
    return [r for r in results if r is not None]


def _replay_result(c: Checked, pk: str, digest: str, route: str) -> ItemResult:
    if digest == c.content_hash:
        return ItemResult(index=c.index, status=200, recommendation_id=pk, route=route)
    return ItemResult(
        index=c.index,
        status=409,
        recommendation_id=pk,
        detail=f"external_id '{c.data['external_id']}' was already used with different content.",
    )
