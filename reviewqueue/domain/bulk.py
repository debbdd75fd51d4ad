"""Which items a bulk decision takes: the rule services/bulk.py applies and the items page
previews, in one place. Pure: it reads the queue and item it is given."""

from dataclasses import dataclass
from typing import Any

from reviewqueue.states import Outcome, Route, Status

BULK_MAX_ITEMS = 100
BULK_OUTCOMES = (Outcome.APPROVE, Outcome.REJECT)


@dataclass(frozen=True)
class Refusal:
    status: int  # 400, 404 or 409, as the API reports it per item
    reason: str
    detail: str


def bulk_refusal(queue: Any, rec: Any, pk: str, *, senior: bool) -> Refusal | None:
    """Why `rec` (None: not an item of `queue`) is left out of a bulk decision, or None."""
    if rec is None:
        return Refusal(404, "not_in_queue", f"No item {pk} in queue '{queue.slug}'.")
    if rec.route == Route.SHADOW:
        return Refusal(409, "blind_review", "Blind-review items are decided one by one.")
    if rec.risk_score > queue.bulk_max_risk:
        return Refusal(
            400,
            "risk_above_bulk_max",
            f"Risk {rec.risk_score:g} is above this queue's bulk_max_risk "
            f"({queue.bulk_max_risk:g}); decide it on its own.",
        )
    waiting = {Status.PENDING, Status.ESCALATED} if senior else {Status.PENDING}
    if rec.status not in waiting:
        reason = "held_by_other" if rec.status == Status.IN_REVIEW else "not_waiting"
        return Refusal(409, reason, f"This item is {rec.status}, not waiting.")
    return None
