"""Bulk decisions: approve or reject many waiting items of a queue with one reason.

Each item is claimed, decided and audited on its own, exactly as if the reviewer had done it
one by one (services/review.py; the decision and its audit row say `bulk`), so a bulk
decision is never more than the sum of single ones: an item refused or lost along the way
gets its own result and leaves the others alone. Refused per item: risk above the queue's
`bulk_max_risk`, a blind-review (shadow) item, or an item not waiting for this reviewer.
"""

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from reviewqueue.domain.bulk import BULK_MAX_ITEMS, BULK_OUTCOMES, bulk_refusal
from reviewqueue.domain.decision_input import Mode, Target, decision_check
from reviewqueue.exceptions import DomainError, ValidationFailed
from reviewqueue.models import Queue, Recommendation, User
from reviewqueue.services.review import (
    claim_loaded,
    decide_loaded,
    items_for_review,
    queue_access,
    queue_for,
    recommendation_release,
)


@dataclass
class BulkItemResult:
    id: str
    status: int  # 200 decided; 400, 403, 404 or 409 refused (see `reason`)
    reason: str = ""
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.reason:
            data["reason"] = self.reason
        if self.detail:
            data["detail"] = self.detail
        return data | self.extra


def recommendations_bulk_decide(
    *, user: User, queue: str, ids: Any, outcome: Any, reason_code: Any = "", comment: Any = ""
) -> list[BulkItemResult]:
    """Decide up to BULK_MAX_ITEMS items of `queue` (a slug) with one outcome and reason.

    The request as a whole: 404 no such queue, 403 not a reviewer of it, 400 for ids that are
    not a list of 1 to 100 distinct item ids, an outcome other than approve or reject, or a
    reason code and comment the single decision would refuse. Then one result per id, in the
    order given. Audited: per item, as a single claim and decision (`bulk: true`).
    """
    the_queue = queue_for(slug=queue)
    member = queue_access(user=user, queue=the_queue)
    wanted = bulk_request_check(the_queue, ids, outcome, reason_code, comment)
    found = {
        str(rec.pk): rec for rec in items_for_review(user).filter(pk__in=wanted, queue=the_queue)
    }
    return [
        _one(user, the_queue, found.get(pk), pk, outcome, reason_code, comment, member.senior)
        for pk in wanted
    ]


def bulk_request_check(
    queue: Queue, ids: Any, outcome: Any, reason_code: Any, comment: Any
) -> list[str]:
    """The request as a whole (ids, outcome, reason, comment), before any item is looked at:
    the item ids as text, or ValidationFailed naming the field. The items page asks it before
    its confirmation, the decision itself again."""
    wanted = _ids(ids)
    if outcome not in BULK_OUTCOMES:
        raise ValidationFailed(
            "A bulk decision approves or rejects.", errors={"outcome": "Must be approve or reject."}
        )
    _check_reason(queue, outcome, reason_code, comment)
    return wanted


def _ids(ids: Any) -> list[str]:
    if not isinstance(ids, list) or not 1 <= len(ids) <= BULK_MAX_ITEMS:
        raise ValidationFailed(
            "Name the items to decide.",
            errors={"ids": f"Must be a list of 1 to {BULK_MAX_ITEMS} item ids."},
        )
    out: list[str] = []
    for i, value in enumerate(ids):
        try:
            out.append(str(uuid.UUID(str(value))))
        except ValueError:
            raise ValidationFailed(
                "Not an item id.", errors={f"ids.{i}": "Must be an item id (a UUID)."}
            ) from None
    if len(set(out)) != len(out):
        raise ValidationFailed("An item is named twice.", errors={"ids": "Must not repeat an id."})
    return out


def _check_reason(queue: Queue, outcome: str, reason_code: Any, comment: Any) -> None:
    """The single decision's rules for the reason and comment, once for the whole request."""
    target = Target(
        proposal={}, payload_schema={}, reason_codes=queue.reason_codes, cosmetic_fields=[]
    )
    decision_check(
        target,
        mode=Mode.REVIEW,
        outcome=outcome,
        payload=None,
        reason_code=reason_code,
        comment=comment,
    )


def _one(
    user: User,
    queue: Queue,
    rec: Recommendation | None,
    pk: str,
    outcome: str,
    reason_code: str,
    comment: str,
    senior: bool,
) -> BulkItemResult:
    refused = bulk_refusal(queue, rec, pk, senior=senior)
    if refused is not None or rec is None:
        if refused is None:
            return BulkItemResult(pk, 404, "not_in_queue")
        return BulkItemResult(pk, refused.status, refused.reason, refused.detail)
    try:
        claim_loaded(user, rec, timezone.now(), give_back_others=False)
    except DomainError as exc:
        return BulkItemResult(pk, exc.status_code, exc.extra.get("reason", exc.code), exc.detail)
    try:
        decided = decide_loaded(
            user,
            rec,
            outcome=outcome,
            reason_code=reason_code or "",
            comment=comment or "",
            bulk=True,
        )
    except DomainError as exc:
        _let_go(user, pk)
        return BulkItemResult(pk, exc.status_code, exc.extra.get("reason", exc.code), exc.detail)
    execution = getattr(decided, "execution", None)
    return BulkItemResult(
        pk,
        200,
        extra={
            "outcome": outcome,
            "execution": execution.status if execution is not None else None,
        },
    )


def _let_go(user: User, pk: str) -> None:
    """A claimed item whose decision was refused goes back to the queue."""
    with contextlib.suppress(DomainError):  # already gone (expired, swept): nothing held
        recommendation_release(user=user, recommendation_id=pk)


__all__ = ["BULK_MAX_ITEMS", "BulkItemResult", "recommendations_bulk_decide"]
