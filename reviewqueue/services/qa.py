"""QA sampling and review of auto-executed items.

At ingest, an auto-approved item is flagged `qa_sampled` with probability
`queue.qa_sample_rate` (a column set before the insert: no extra statement). Reviewers of the
queue then mark each sampled item's executed action correct or incorrect, with a reason;
the verdicts feed the auto-execution error rate and the QA-rejection circuit breaker.

The random source is injectable (`qa_random`), so tests are deterministic.
"""

import random

from django.db import IntegrityError, transaction
from django.utils import timezone

from reviewqueue import access
from reviewqueue.domain import reasons
from reviewqueue.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from reviewqueue.lib.ids import RecommendationId
from reviewqueue.models import QaReview, Recommendation, User
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.services.breaker import breaker_evaluate_qa
from reviewqueue.states import QaVerdict, Route

_rng: random.Random = random.Random()


def qa_random(rng: random.Random | None = None) -> random.Random:
    """The random source of QA sampling; pass one (e.g. `random.Random(42)`) to replace it.
    Returns the one in use."""
    global _rng
    if rng is not None:
        _rng = rng
    return _rng


def qa_should_sample(rate: float) -> bool:
    """True with probability `rate` (0 never, 1 always)."""
    if rate <= 0:
        return False
    return rate >= 1 or _rng.random() < rate


def qa_review_record(
    *,
    user: User,
    recommendation_id: RecommendationId,
    verdict: str,
    reason_code: str = "",
    comment: str = "",
) -> QaReview:
    """Record the QA verdict on one sampled, auto-executed item, once.

    Preconditions: the user is a member of the item's queue (403; others' items are 404);
    the item was auto-approved and sampled for QA (409); no verdict yet (409, also when
    another reviewer records one at the same moment: the unique row settles it); `incorrect`
    needs a reason code from the queue's list. Then evaluates the QA-rejection breaker in
    the same transaction. Audited: `qa.reviewed`.
    """
    valid = [v.value for v in QaVerdict]
    errors: dict[str, str] = {}
    if verdict not in valid:
        errors["verdict"] = "Must be correct or incorrect."
    if not isinstance(comment, str) or len(comment) > 5000:
        errors["comment"] = "Must be text of at most 5000 characters."
    rec = Recommendation.objects.select_related("queue").filter(pk=recommendation_id).first()
    if rec is None:
        raise NotFound("No recommendation with this id.")
    if not access.may_give_qa_verdict(user, rec.queue):
        raise Forbidden(f"You are not a member of queue '{rec.queue.slug}'.")
    if verdict == QaVerdict.INCORRECT and not reason_code:
        errors["reason_code"] = "A reason code is required to mark an action incorrect."
    elif reason_code and reason_code not in (codes := reasons.codes(rec.queue.reason_codes)):
        errors["reason_code"] = "Must be one of: " + ", ".join(codes) + "."
    if errors:
        raise ValidationFailed("The QA verdict is not valid.", errors=errors)
    if rec.route != Route.AUTO or not rec.qa_sampled:
        raise Conflict("Only auto-executed items sampled for QA take a QA verdict.")
    try:
        with transaction.atomic():
            review = QaReview.objects.create(
                recommendation=rec,
                queue=rec.queue,
                verdict=verdict,
                reason_code=reason_code,
                comment=comment,
                reviewer=user,
                reviewed_at=timezone.now(),
            )
            # The breaker before the audit row: queue row, then audit chain head, the same
            # lock order as stage moves (no deadlock with a concurrent move or resume).
            breaker_evaluate_qa(queue=rec.queue)
            audit_record(
                action="qa.reviewed",
                actor=Actor.of_user(user),
                recommendation=rec,
                data={"verdict": verdict, "reason_code": reason_code, "comment": comment},
            )
    except IntegrityError:
        raise Conflict("This item already has a QA verdict.", reason="already_reviewed") from None
    return review
