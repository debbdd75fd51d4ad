"""Reads of consensus votes (services/consensus.py): the votes a senior sees side by side, and
how many an item has. Who may see them is access.may_see_votes."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reviewqueue import access
from reviewqueue.lib.diff import json_diff
from reviewqueue.models import Recommendation, User, Vote
from reviewqueue.states import Outcome

# Blind review: approve vs modify says whether an answer matched the hidden proposal.
ANSWERED = "answered"


@dataclass(frozen=True)
class VoteShown:
    reviewer: str
    outcome: str
    payload: Any
    changes: list[dict[str, Any]]  # against the proposal; empty when the proposal is hidden
    reason_code: str
    comment: str
    bulk: bool
    created_at: datetime


@dataclass(frozen=True)
class VotesShown:
    votes: list[VoteShown]
    needed: int
    # Between every two votes with a payload of their own (modify, or a blind answer):
    # (first reviewer, second reviewer, changes from the first's payload to the second's).
    between: list[tuple[str, str, list[dict[str, Any]]]] = field(default_factory=list)
    hidden: int = 0  # others' votes the viewer may not see yet


def votes_shown(*, user: User, recommendation: Recommendation, senior: bool) -> VotesShown | None:
    """The votes on the item as `user` may see them (all of them, or only their own), with
    the differences between the payloads; None when the item has no votes."""
    rows = list(
        Vote.objects.filter(recommendation=recommendation)
        .select_related("reviewer")
        .order_by("created_at", "id")
    )
    if not rows:
        return None
    every = access.may_see_votes(user, recommendation, senior=senior)
    blind = access.proposal_hidden(user, recommendation)
    seen = [v for v in rows if every or v.reviewer_id == user.pk]
    shown = [
        VoteShown(
            reviewer=v.reviewer.get_username(),
            outcome=ANSWERED if blind and v.outcome != Outcome.REJECT else v.outcome,
            payload=v.payload,
            changes=[] if blind else list(v.diff),
            reason_code=v.reason_code,
            comment=v.comment,
            bulk=v.bulk,
            created_at=v.created_at,
        )
        for v in seen
    ]
    own = [v for v in seen if v.payload is not None and (blind or v.outcome == Outcome.MODIFY)]
    between = [
        (a.reviewer.get_username(), b.reviewer.get_username(), json_diff(a.payload, b.payload))
        for i, a in enumerate(own)
        for b in own[i + 1 :]
    ]
    return VotesShown(
        votes=shown,
        needed=recommendation.reviewers_needed,
        between=between,
        hidden=len(rows) - len(seen),
    )


def vote_count(*, recommendation: Recommendation) -> int:
    return Vote.objects.filter(recommendation=recommendation).count()
