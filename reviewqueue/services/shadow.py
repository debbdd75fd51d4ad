"""Shadow mode: recommendations are recorded and never executed; the source reports what
people actually decided (`recommendation_record_outcome`), or reviewers decide blind in the
app (services/review.py; both checked by domain/decision_input.py), and that outcome is kept beside the
AI's proposal for comparison."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from reviewqueue.domain.decision_input import Mode, Target, decision_check
from reviewqueue.domain.rows import decision_row
from reviewqueue.exceptions import Conflict, NotFound
from reviewqueue.lib.canonical import content_hash
from reviewqueue.lib.ids import RecommendationId
from reviewqueue.models import Recommendation, Source
from reviewqueue.services.audit import Actor
from reviewqueue.services.transitions import move_audited
from reviewqueue.states import DecisionKind, Status


def recommendation_record_outcome(
    *,
    source: Source,
    recommendation_id: RecommendationId,
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
        checked = decision_check(
            Target.of(rec),
            mode=Mode.EXTERNAL,
            outcome=outcome,
            payload=payload,
            reason_code=reason_code,
            comment=comment,
        )
        now = timezone.now()
        move_audited(
            rec,
            sources=[Status.SHADOW],
            to=Status.DECIDED,
            values={"closed_at": now, "updated_at": now},
            action="recommendation.human_outcome",
            actor=Actor.of_source(source),
            data={
                "outcome": checked.outcome,
                "reason_code": reason_code,
                "diff": checked.diff,
                "is_cosmetic": checked.is_cosmetic,
            },
        )
        decision = decision_row(
            rec,
            kind=DecisionKind.EXTERNAL,
            outcome=checked.outcome,
            payload=checked.payload,
            payload_hash=content_hash(checked.payload) if checked.payload is not None else "",
            now=now,
            diff=checked.diff,
            is_cosmetic=checked.is_cosmetic,
            reason_code=reason_code,
            comment=comment,
        )
        decision.save(force_insert=True)
    Recommendation.decision.related.set_cached_value(rec, decision)
    Recommendation.execution.related.set_cached_value(rec, None)
    return rec
