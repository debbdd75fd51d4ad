"""Inter-reviewer agreement (issue 18 #2): how often reviewers who voted on the same item
(consensus, services/consensus.py) said the same thing, as percent agreement and Cohen's
kappa (domain/agreement.py), per queue, per reviewer (against everyone else) and per pair.

Counted over votes cast in the range on items whose votes are complete (decided, expired, or
escalated), so nobody learns a pending vote from a number. Two votes agree as consensus
judges them (domain/consensus.vote_key): the same outcome, and for modify the same final
payload; kappa's categories are those keys (each distinct modified payload is a category).
A queue's and a reviewer's kappa pool every pair of votes on an item (each pair once, the
earlier vote first): Cohen's kappa of the pooled pairs, not Fleiss'. A reviewer's own line
(My numbers) leaves out blind-review items, as their other numbers do."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any

from django.db.models import Q

from reviewqueue.domain.agreement import Agreement, agreement_of
from reviewqueue.domain.consensus import vote_key
from reviewqueue.lib.dates import local_midnight
from reviewqueue.models import Queue, User, Vote
from reviewqueue.reporting.parameters import TrendRequest
from reviewqueue.reporting.scope import metrics_scope
from reviewqueue.states import Route, Status

Pair = tuple[str, str]  # two labels of the same item


@dataclass(frozen=True)
class AgreementRow:
    kind: str  # "queue", "reviewer" or "pair"
    queue: str
    reviewer: str  # "" for a queue row
    other: str  # the pair's second reviewer; "" otherwise
    result: Agreement

    def as_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "queue": self.queue,
            **({"reviewer": self.reviewer} if self.kind == "reviewer" else {}),
            **({"reviewers": [self.reviewer, self.other]} if self.kind == "pair" else {}),
            "items": r.items,
            "percent_agreement": None if r.percent is None else round(r.percent, 4),
            "kappa": None if r.kappa is None else round(r.kappa, 4),
            "reason": r.reason or None,
        }

    def csv(self) -> list[Any]:
        j = self.as_json()
        return [
            self.kind,
            self.queue,
            self.reviewer,
            self.other,
            j["items"],
            j["percent_agreement"],
            j["kappa"],
            j["reason"] or "",
        ]


@dataclass(frozen=True)
class AgreementTable:
    queues: list[AgreementRow]
    reviewers: list[AgreementRow]
    pairs: list[AgreementRow]

    def rows(self) -> Iterable[AgreementRow]:
        yield from self.queues
        yield from self.reviewers
        yield from self.pairs

    def as_json(self) -> dict[str, Any]:
        return {
            "queues": [r.as_json() for r in self.queues],
            "reviewers": [r.as_json() for r in self.reviewers],
            "pairs": [r.as_json() for r in self.pairs],
        }


CSV_HEADER = ["scope", "queue", "reviewer", "other_reviewer", "items", "percent", "kappa", "note"]


def _votes(queues: Sequence[Queue], lo: datetime, hi: datetime, blind: bool) -> list[Any]:
    complete = Q(recommendation__escalated_at__isnull=False) | Q(
        recommendation__status__in=[Status.DECIDED, Status.EXPIRED]
    )
    qs = Vote.objects.filter(
        complete, queue__in=queues, created_at__gte=lo, created_at__lt=hi
    ).exclude(recommendation__reviewers_needed=1)
    if not blind:
        qs = qs.exclude(recommendation__route=Route.SHADOW)
    return list(
        qs.order_by("queue__slug", "recommendation_id", "created_at", "id").values_list(
            "queue__slug", "recommendation_id", "reviewer__username", "outcome", "payload_hash"
        )
    )


def _label(outcome: str, payload_hash: str) -> str:
    key = vote_key(outcome, payload_hash)
    return f"{key[0]}:{key[1][:12]}" if key[1] else key[0]


def agreement_for(
    *, queues: Sequence[Queue], lo: datetime, hi: datetime, reviewer: User | None = None
) -> AgreementTable:
    """The agreement table over votes in [lo, hi) of `queues`. With `reviewer` (their own
    numbers): only that reviewer's lines, blind items left out."""
    by_item: dict[tuple[str, Any], list[tuple[str, str]]] = defaultdict(list)
    for slug, item, username, outcome, payload_hash in _votes(queues, lo, hi, reviewer is None):
        by_item[(slug, item)].append((username, _label(outcome, payload_hash)))
    per_queue: dict[str, list[Pair]] = defaultdict(list)
    per_reviewer: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    per_pair: dict[tuple[str, str, str], list[Pair]] = defaultdict(list)
    for (slug, _), votes in by_item.items():
        for (a, la), (b, lb) in combinations(votes, 2):
            per_queue[slug].append((la, lb))
            per_reviewer[(slug, a)].append((la, lb))
            per_reviewer[(slug, b)].append((lb, la))
            first, second = sorted([(a, la), (b, lb)])
            per_pair[(slug, first[0], second[0])].append((first[1], second[1]))
    mine = reviewer.get_username() if reviewer is not None else None
    return AgreementTable(
        queues=[]
        if mine
        else [
            AgreementRow("queue", slug, "", "", agreement_of(p))
            for slug, p in sorted(per_queue.items())
        ],
        reviewers=[
            AgreementRow("reviewer", slug, name, "", agreement_of(p))
            for (slug, name), p in sorted(per_reviewer.items())
            if mine is None or name == mine
        ],
        pairs=[]
        if mine
        else [
            AgreementRow("pair", slug, a, b, agreement_of(p))
            for (slug, a, b), p in sorted(per_pair.items())
        ],
    )


def agreement_report(*, user: User, request: TrendRequest) -> AgreementTable:
    """The table for what `user` may see (reporting/scope.metrics_scope): admins and auditors
    every queue, reviewer and pair; anyone else their own line in their queues."""
    scope = metrics_scope(user=user, queue=request.queue, reviewer=request.reviewer)
    lo, hi = local_midnight(request.start, request.tz), local_midnight(request.end, request.tz)
    return agreement_for(
        queues=scope.queues,
        lo=lo,
        hi=hi,
        reviewer=scope.reviewer if scope.own_numbers_only else None,
    )


def agreement_csv_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    """/reports/agreement.csv (reporting/csv_sections.py)."""
    yield CSV_HEADER
    for row in agreement_report(user=user, request=request).rows():
        yield row.csv()


__all__ = [
    "CSV_HEADER",
    "AgreementRow",
    "AgreementTable",
    "agreement_csv_rows",
    "agreement_for",
    "agreement_report",
]
