"""Where an arriving recommendation goes, by its queue's stage and thresholds. Pure."""

from collections.abc import Sequence

from reviewqueue.domain.flags import Flag
from reviewqueue.models import ActionType, Queue
from reviewqueue.states import Route, Stage, Status


def effective_stage(queue: Queue) -> Stage:
    """A tripped circuit breaker makes a supervised or autonomous queue behave as approval."""
    stage = Stage(queue.stage)
    if queue.breaker_tripped_at is not None and stage in (Stage.SUPERVISED, Stage.AUTONOMOUS):
        return Stage.APPROVAL
    return stage


def route_for(
    *,
    queue: Queue,
    action_type: ActionType,
    confidence: float,
    risk: float,
    flags: Sequence[Flag] = (),
) -> Route:
    """Boundaries (spec defaults): auto when risk < auto_max_risk and confidence >=
    auto_min_confidence; escalate when risk >= escalate_min_risk; review otherwise. In
    supervised and autonomous stages, risk at or above hard_risk_ceiling escalates and any
    anomaly flag (domain/flags.py) keeps the item from executing."""
    stage = effective_stage(queue)
    if stage == Stage.SHADOW:
        return Route.SHADOW
    if stage == Stage.APPROVAL:
        return Route.REVIEW
    if queue.hard_risk_ceiling is not None and risk >= queue.hard_risk_ceiling:
        return Route.ESCALATED
    if stage == Stage.SUPERVISED:
        if risk >= queue.escalate_min_risk:
            return Route.ESCALATED
        if (
            not action_type.always_review
            and not flags
            and risk < queue.auto_max_risk
            and confidence >= queue.auto_min_confidence
        ):
            return Route.AUTO
        return Route.REVIEW
    # Autonomous: everything executes except what must still go to people.
    if action_type.always_review or flags:
        return Route.REVIEW
    return Route.AUTO


INITIAL_STATUS = {
    Route.SHADOW: Status.SHADOW,
    Route.REVIEW: Status.PENDING,
    Route.ESCALATED: Status.ESCALATED,
    Route.AUTO: Status.AUTO_APPROVED,
}
