"""Consensus: an item that needs several reviewers (`Recommendation.reviewers_needed`, the
queue's `reviewers_per_item` when it arrived) collects one vote per reviewer.

services/review.py calls `vote_cast` from a decision, inside its transaction, with the item
locked under the caller's live lease. While votes are short, the vote is recorded and the item
goes back to waiting (pending, or shadow for blind review), unclaimed: the others may claim
it, the voter never again (services/transitions.claim_next and review.claim_loaded skip
voters; the unique (recommendation, reviewer) is the backstop). The last vote resolves it:
all agree → services/review.py writes the one Decision (and its execution) as for a single
reviewer; they disagree → `consensus_escalate`, and a senior's decision is final.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from reviewqueue.domain.consensus import all_agree, votes_needed
from reviewqueue.domain.decision_input import CheckedDecision
from reviewqueue.exceptions import Conflict
from reviewqueue.lib.canonical import content_hash
from reviewqueue.models import Recommendation, User, Vote
from reviewqueue.services.audit import Actor, audit_record
from reviewqueue.services.leases import back_to
from reviewqueue.services.notifications import notify_escalated
from reviewqueue.services.transitions import move_audited, unheld
from reviewqueue.states import Status

ALREADY_VOTED = "already_voted"


@dataclass(frozen=True)
class Tally:
    votes: list[Vote]  # every vote on the item, the caller's last
    needed: int

    @property
    def waiting(self) -> bool:
        return len(self.votes) < self.needed

    @property
    def agreed(self) -> bool:
        return not self.waiting and all_agree(self.votes)

    def summary(self) -> dict[str, Any]:
        """The votes as the audit and the decision's audit row record them."""
        return {"votes": len(self.votes), "needed": self.needed, "agreed": self.agreed}


def consensus_applies(rec: Recommendation) -> bool:
    return votes_needed(rec) > 1


def vote_data(vote: Vote) -> dict[str, Any]:
    return {
        "outcome": vote.outcome,
        "reason_code": vote.reason_code,
        "comment": vote.comment,
        "payload_hash": vote.payload_hash,
        "diff": vote.diff,
        "bulk": vote.bulk,
    }


def vote_cast(
    rec: Recommendation,
    checked: CheckedDecision,
    *,
    user: User,
    reason_code: str,
    comment: str,
    now: datetime,
    bulk: bool = False,
) -> Tally:
    """Record `user`'s vote on `rec`, which the caller holds under a live lease and has
    locked in this transaction (services/review.py). Short of votes: the item goes back to
    waiting, unclaimed. Enough and disagreeing: `consensus_escalate`. Enough and agreeing:
    nothing moves here; the caller writes the Decision.
    409 `already_voted` if the caller voted on it before (only a race gets here).
    Audited: `recommendation.voted` (the vote, and the move back to waiting when short)."""
    final = checked.payload
    vote = Vote(
        recommendation=rec,
        queue_id=rec.queue_id,
        reviewer=user,
        outcome=checked.outcome,
        payload=final,
        payload_hash=content_hash(final) if final is not None else "",
        diff=checked.diff,
        is_cosmetic=checked.is_cosmetic,
        agreed=checked.agreed,
        reason_code=reason_code,
        comment=comment,
        bulk=bulk,
        created_at=now,
    )
    try:
        with transaction.atomic():
            vote.save(force_insert=True)
    except IntegrityError:
        raise Conflict("You have already voted on this item.", reason=ALREADY_VOTED) from None
    votes = list(
        Vote.objects.filter(recommendation=rec)
        .select_related("reviewer")
        .order_by("created_at", "id")
    )
    tally = Tally(votes=votes, needed=votes_needed(rec))
    data = vote_data(vote) | {"votes": len(votes), "needed": tally.needed}
    if checked.agreed is not None:
        data["agreed"] = checked.agreed
    if tally.waiting:
        # Back to waiting for the others; the voter is skipped by every later claim.
        moved = move_audited(
            rec,
            sources=[Status.IN_REVIEW],
            to=back_to(rec),
            values=unheld(now),
            where={"claimed_by": user},
            action="recommendation.voted",
            actor=Actor.of_user(user),
            data=data,
        )
        assert moved, "the caller holds the item locked"
        return tally
    audit_record(
        action="recommendation.voted", actor=Actor.of_user(user), recommendation=rec, data=data
    )
    if not tally.agreed:
        consensus_escalate(rec, tally, user=user, now=now)
    return tally


def consensus_escalate(rec: Recommendation, tally: Tally, *, user: User, now: datetime) -> None:
    """The votes on `rec` disagree: it goes to the queue's senior reviewers, who see every
    vote side by side and decide finally (domain/consensus.votes_needed is 1 once escalated).
    The one place a disagreement escalates. Audited: `recommendation.escalated` with
    `reason: votes_disagree` and the votes."""
    moved = move_audited(
        rec,
        sources=[Status.IN_REVIEW],
        to=Status.ESCALATED,
        values=unheld(now, escalated_at=now),
        where={"claimed_by": user},
        action="recommendation.escalated",
        actor=Actor.system("consensus"),
        data={
            "reason": "votes_disagree",
            "votes": [{"reviewer": v.reviewer.get_username(), **vote_data(v)} for v in tally.votes],
        },
    )
    assert moved, "the caller holds the item locked"
    notify_escalated([rec], at=now, reason="the reviewers' votes disagree")


def has_voted(rec: Recommendation, user: User) -> bool:
    return Vote.objects.filter(recommendation=rec, reviewer=user).exists()


__all__ = [
    "ALREADY_VOTED",
    "Tally",
    "consensus_applies",
    "consensus_escalate",
    "has_voted",
    "vote_cast",
]
