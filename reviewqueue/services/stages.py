"""Moving a queue between stages: an admin advances it one step or demotes it, with the
readiness evidence of the moment kept beside the move. Nothing here runs by itself: the
readiness report recommends, an admin decides. The circuit breaker's automatic step back is
recorded in the same history (services/breaker.py writes it through `stage_history_record`).
"""

import json
from typing import Any

from django.db import transaction
from django.utils import timezone

from reviewqueue import access
from reviewqueue.exceptions import Forbidden, IllegalMove, ValidationFailed
from reviewqueue.models import Queue, StageChange, User
from reviewqueue.selectors.targets import targets_changed
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.states import STAGE_ORDER, Stage, stage_move_is_legal


class StageMoveRefused(IllegalMove):
    """A stage move the legal-moves table refuses: about the queue, not an item."""

    title = "That stage change is not allowed for the queue's current stage"


def readiness_snapshot(*, queue: Queue) -> dict[str, Any]:
    """The readiness of `queue` for its next stage as plain JSON: every gate with its
    status, the rule and the numbers (reporting/readiness.py), plus the breaker."""
    from reviewqueue.reporting.readiness import readiness_for

    readiness = readiness_for(queue=queue)
    snapshot = {
        "stage": readiness.stage,
        "next_stage": readiness.next_stage,
        "ready": readiness.ready,
        "summary": readiness.summary,
        "gates": [
            {
                "key": g.key,
                "label": g.label,
                "status": g.status,
                "status_label": g.status_label,
                "window": g.window,
                "evidence": g.evidence,
                "numbers": g.numbers,
            }
            for g in readiness.gates
        ],
        "breaker_tripped": queue.breaker_tripped_at is not None,
        "taken_at": timezone.now().isoformat(),
    }
    # Whatever the gates carry (dates, decimals) is stored as text, never refused.
    loaded: dict[str, Any] = json.loads(json.dumps(snapshot, default=str))
    return loaded


def stage_history_record(
    *,
    queue: Queue,
    from_stage: str,
    to_stage: str,
    kind: str,
    actor: Actor,
    comment: str = "",
    evidence: dict[str, Any] | None = None,
) -> StageChange:
    """One row of the queue's stage history. Call inside the transaction of the move."""
    return StageChange.objects.create(
        queue=queue,
        from_stage=from_stage,
        to_stage=to_stage,
        kind=kind,
        user=actor.user,
        actor_label=actor.label,
        comment=comment,
        evidence=evidence or {},
    )


def stage_change(*, queue: Queue, to_stage: str, user: User, comment: str = "") -> StageChange:
    """Move `queue` to `to_stage`: one step up (advance) or any step down (demote).

    Preconditions: the user is an admin (403); the move is legal (states.stage_move_is_legal,
    409 otherwise); advancing while a readiness gate is not met needs a comment saying why
    (400). Records a StageChange with the readiness snapshot and forgets cached routing
    targets, so the next ingest routes by the new stage. The breaker is left as it is: a
    tripped queue still behaves as approval until an admin resumes it.
    Audited: `queue.stage_changed` with from, to, kind, comment and the snapshot.
    """
    if not access.can_administer_queues(user):
        raise Forbidden("Only admins may move a queue between stages.")
    valid = [s.value for s in STAGE_ORDER]
    if to_stage not in valid:
        raise ValidationFailed(
            "Unknown stage.", errors={"to_stage": "Must be one of: " + ", ".join(valid) + "."}
        )
    if len(comment) > 5000:
        raise ValidationFailed(
            "Comment too long.", errors={"comment": "Must be at most 5000 characters."}
        )
    with transaction.atomic():
        locked = Queue.objects.select_for_update().get(pk=queue.pk)
        current, target = Stage(locked.stage), Stage(to_stage)
        if not stage_move_is_legal(current, target):
            raise StageMoveRefused(
                f"A queue moves up one stage at a time or down any number of stages; "
                f"this queue is at {current}, so {current} to {target} is not allowed.",
            )
        advance = STAGE_ORDER.index(target) > STAGE_ORDER.index(current)
        evidence = readiness_snapshot(queue=locked)
        if advance and not evidence["ready"] and not comment.strip():
            raise ValidationFailed(
                "Not every readiness gate is met: say why you advance anyway.",
                errors={"comment": "Required when advancing with unmet readiness gates."},
            )
        locked.stage = target
        locked.save(update_fields=["stage", "updated_at"])
        targets_changed()  # ingest routes by the stage: stop using the old one
        actor = Actor.of_user(user)
        kind = "advance" if advance else "demote"
        change = stage_history_record(
            queue=locked,
            from_stage=current,
            to_stage=target,
            kind=kind,
            actor=actor,
            comment=comment,
            evidence=evidence,
        )
        audit_record(
            action="queue.stage_changed",
            actor=actor,
            queue=locked,
            data={
                "from": current.value,
                "to": target.value,
                "kind": kind,
                "comment": comment,
                "stage_change": change.pk,
                "evidence": evidence,
            },
        )
    queue.stage = locked.stage
    return change
