"""Shadow mode: recommendations are recorded and never executed; the source reports what
people actually decided (`recommendation_record_outcome`), or reviewers decide blind in the
app (services/review.py, with `blind_compare` here), and that outcome is kept beside the
AI's proposal for comparison."""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from reviewqueue.domain.rows import decision_row
from reviewqueue.exceptions import Conflict, NotFound, ValidationFailed
from reviewqueue.lib.canonical import content_hash
from reviewqueue.lib.diff import is_cosmetic, json_diff
from reviewqueue.lib.schema import errors_by_path, validator_for
from reviewqueue.models import Recommendation, Source
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.states import DecisionKind, Outcome, Status


def recommendation_record_outcome(
    *,
    source: Source,
    recommendation_id: Any,
    outcome: str,
    payload: Any = None,
    reason_code: str = "",
    comment: str = "",
) -> Recommendation:
    """Record the human outcome of one of the source's shadow items, once.

    `modify` needs a payload that passes the action type's schema and differs from the
    proposal; a reason code, when given, must be one of the queue's. Nothing executes.
    404 for another source's item; 409 unless the item is a shadow item without an outcome.
    Audited: `recommendation.human_outcome`.
    """
    with transaction.atomic():
        rec = (
            Recommendation.objects.select_for_update(of=("self",))
            .select_related("queue", "action_type")
            .filter(pk=recommendation_id, source=source)
            .first()
        )
        if rec is None:
            raise NotFound("No recommendation with this id.")
        if rec.status != Status.SHADOW:
            raise Conflict(
                "Only shadow items take a human outcome; "
                + (
                    "this one already has it."
                    if rec.status == Status.DECIDED and rec.route == "shadow"
                    else f"this one is {rec.status} (route {rec.route})."
                ),
                reason="not_shadow" if rec.route != "shadow" else "already_recorded",
            )
        errors: dict[str, str] = {}
        if reason_code and reason_code not in rec.queue.reason_codes:
            errors["reason_code"] = "Must be one of: " + ", ".join(rec.queue.reason_codes) + "."
        final: Any = None
        changes: list[dict[str, Any]] = []
        cosmetic = None
        if outcome == Outcome.APPROVE:
            final = rec.payload
        elif outcome == Outcome.MODIFY:
            if not isinstance(payload, dict):
                errors["payload"] = "Modify needs the payload people actually used (an object)."
            else:
                schema_errors = errors_by_path(
                    validator_for(rec.action_type.payload_schema), payload, "payload"
                )
                errors.update(schema_errors)
                changes = json_diff(rec.payload, payload)
                if not schema_errors and not changes:
                    errors["payload"] = "The payload is the same as the proposal; report approve."
                final, cosmetic = payload, is_cosmetic(changes, rec.action_type.cosmetic_fields)
        if errors:
            raise ValidationFailed("The outcome is not valid.", errors=errors)
        now = timezone.now()
        decision = decision_row(
            rec,
            kind=DecisionKind.EXTERNAL,
            outcome=outcome,
            payload=final,
            payload_hash=content_hash(final) if final is not None else "",
            now=now,
            diff=changes,
            is_cosmetic=cosmetic,
            reason_code=reason_code,
            comment=comment,
        )
        decision.save(force_insert=True)
        rec.status, rec.closed_at, rec.updated_at = Status.DECIDED, now, now
        rec.save(update_fields=["status", "closed_at", "updated_at"])
        audit_record(
            action="recommendation.human_outcome",
            actor=Actor.of_source(source),
            recommendation=rec,
            data={
                "outcome": outcome,
                "reason_code": reason_code,
                "diff": changes,
                "is_cosmetic": cosmetic,
            },
        )
    Recommendation.decision.related.set_cached_value(rec, decision)  # type: ignore[attr-defined]
    Recommendation.execution.related.set_cached_value(rec, None)  # type: ignore[attr-defined]
    return rec


@dataclass(frozen=True)
class BlindResult:
    """A blind reviewer's answer compared with the proposal they did not see."""

    outcome: str  # approve (same payload), modify (a different one), reject (no action)
    payload: Any  # the reviewer's own payload (None for reject)
    diff: list[dict[str, Any]]
    is_cosmetic: bool | None
    agreed: bool


def blind_compare(
    rec: Recommendation, *, outcome: str, payload: Any, reason_code: str, comment: str
) -> BlindResult:
    """Validate a blind review and compare it with the hidden proposal.

    The reviewer answers with the payload they would use (outcome approve or modify: the
    app, not the reviewer, decides which by comparing it with the proposal) or rejects (no
    action; needs a reason code). Agreement follows human-outcome's rule: the payload equals
    the proposal, or differs only in the action type's cosmetic fields.
    """
    errors: dict[str, str] = {}
    if outcome not in (Outcome.APPROVE, Outcome.MODIFY, Outcome.REJECT):
        raise ValidationFailed(
            "Unknown outcome.", errors={"outcome": "Must be approve, modify or reject."}
        )
    if not isinstance(comment, str) or len(comment) > 5000:
        errors["comment"] = "Must be text of at most 5000 characters."
    if outcome == Outcome.REJECT and not reason_code:
        errors["reason_code"] = "A reason code is required to reject."
    elif reason_code and reason_code not in rec.queue.reason_codes:
        errors["reason_code"] = "Must be one of: " + ", ".join(rec.queue.reason_codes) + "."
    if outcome != Outcome.REJECT:
        if not isinstance(payload, dict):
            errors["payload"] = "A blind review needs the payload you would use (an object)."
        else:
            errors.update(
                errors_by_path(validator_for(rec.action_type.payload_schema), payload, "payload")
            )
    if errors:
        raise ValidationFailed("The blind review is not valid.", errors=errors)
    if outcome == Outcome.REJECT:
        return BlindResult(Outcome.REJECT, None, [], None, agreed=False)
    changes = json_diff(rec.payload, payload)
    if not changes:
        return BlindResult(Outcome.APPROVE, rec.payload, [], None, agreed=True)
    cosmetic = is_cosmetic(changes, rec.action_type.cosmetic_fields)
    return BlindResult(Outcome.MODIFY, payload, changes, cosmetic, agreed=cosmetic)
