"""Consensus: when an item needs several reviewers, and whether their votes agree. Pure: it
reads the item and votes it is given (services/consensus.py writes)."""

from collections.abc import Sequence
from typing import Any

from reviewqueue.states import Outcome


def votes_needed(rec: Any) -> int:
    """How many votes decide `rec`: the number it arrived with (its queue's
    `reviewers_per_item` then), or one once it is escalated: a senior's decision is final,
    whether the item escalated because votes disagreed, by its SLA, by a reviewer or on
    arrival."""
    if rec.escalated_at is not None:
        return 1
    return max(1, int(rec.reviewers_needed))


def vote_key(outcome: str, payload_hash: str) -> tuple[str, str]:
    """What two votes must share to agree: the outcome, and for modify the final payload
    (its hash of canonical JSON, lib/canonical.py: key order and 40 vs 40.0 do not count)."""
    return (outcome, payload_hash if outcome == Outcome.MODIFY else "")


def all_agree(votes: Sequence[Any]) -> bool:
    """Every vote (objects with `outcome` and `payload_hash`) says the same thing."""
    return len({vote_key(v.outcome, v.payload_hash) for v in votes}) <= 1
