"""Check the audit chains end to end, from the stored columns alone.

Every hash is recomputed here, in Python (reviewqueue/lib/audit_chain.py), never by the
database's trigger function: someone able to tamper with rows may also have replaced it.
Rows stream through a server-side cursor in (chain, seq) order, along the unique index, so
memory stays flat whatever the table size; heads and events are read from one snapshot
(REPEATABLE READ), so writers running meanwhile cause no false alarms.

What each problem means:
- edited: an event's content no longer matches its hash (changed after it was written),
  or its chain column does not match its queue.
- missing: seq numbers are absent inside a chain (events deleted).
- out of order: an event is chained to another predecessor than the one before it in seq
  order (seq numbers swapped or rewritten).
- broken link: an event is chained to a predecessor that no longer exists with that hash
  (the event before it was rewritten and re-hashed, or events were removed and the rest
  renumbered).
- head mismatch: the chain's head (its last event as recorded at write time) is not the
  last event found (a deleted tail), or there is no head.
"""

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast

from reviewqueue.lib.audit_chain import FIELDS, GENESIS, fields_hash
from reviewqueue.models import AuditChainHead, AuditEvent, Queue

CHUNK = 5000  # rows per fetch from the server-side cursor
RECENT = 10_000  # hashes remembered to tell "out of order" from "broken link"
MAX_PROBLEMS = 1000  # listed per chain; beyond that they are only counted

_COLUMNS = ("chain", "seq", "prev_hash", "hash", *[f for f in FIELDS if f != "data"], "data_text")
_CHAIN, _SEQ, _PREV, _HASH, _ID = 0, 1, 2, 3, 4
_QUEUE = 4 + FIELDS.index("queue_id")


@dataclass(frozen=True)
class Problem:
    chain: int
    seq: int
    id: int | None
    kind: str  # edited | missing | out of order | broken link | head mismatch
    detail: str


@dataclass
class ChainReport:
    chain: int
    queue: str | None  # slug; None for chain 0 or a queue that no longer exists
    events: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    head_seq: int | None = None
    head_hash: str | None = None
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


class _ChainCheck:
    """One chain, fed its rows in seq order."""

    def __init__(self, report: ChainReport):
        self.report = report
        self.prev_seq = 0
        self.prev_id: int | None = None
        self.prev_stored = GENESIS  # stored hash of the event before, in seq order
        self.recent: OrderedDict[str, tuple[int, int]] = OrderedDict()  # hash -> (seq, id)
        self.dangling: dict[str, tuple[int, int, int, int | None]] = {}

    def feed(self, row: tuple[Any, ...]) -> None:
        report = self.report
        chain, seq, prev_hash, stored, event_id = row[:5]
        report.events += 1
        # row[4:] is FIELDS in order, data as its stored text.
        if fields_hash(prev_hash, row[4:]) != stored:
            report.add(
                Problem(chain, seq, event_id, "edited", "its content does not match its hash")
            )
        if chain != (row[_QUEUE] or 0):
            report.add(
                Problem(chain, seq, event_id, "edited", f"queue {row[_QUEUE]} is not this chain")
            )
        gap = seq != self.prev_seq + 1
        if gap:
            first, last = self.prev_seq + 1, seq - 1
            span = f"seq {first}" if first == last else f"seq {first} to {last}"
            report.add(
                Problem(chain, first, None, "missing", f"{span} ({last - first + 1}) not found")
            )
        if prev_hash != self.prev_stored and not gap:
            if prev_hash in self.recent:
                follows, _ = self.recent[prev_hash]
                report.add(
                    Problem(
                        chain,
                        seq,
                        event_id,
                        "out of order",
                        f"it was chained after seq {follows}, not seq {self.prev_seq}",
                    )
                )
            else:  # perhaps after a later event (a swap): settled when that one comes
                self.dangling[prev_hash] = (seq, event_id, self.prev_seq, self.prev_id)
                if len(self.dangling) > RECENT:  # memory stays bounded: give up on the oldest
                    self._broken(*self.dangling.pop(next(iter(self.dangling))))
        if stored in self.dangling:
            later_seq, later_id, _, _ = self.dangling.pop(stored)
            report.add(
                Problem(
                    chain,
                    later_seq,
                    later_id,
                    "out of order",
                    f"it was chained after seq {seq}, which comes later",
                )
            )
        self.recent[stored] = (seq, event_id)
        if len(self.recent) > RECENT:
            self.recent.popitem(last=False)
        self.prev_seq, self.prev_id, self.prev_stored = seq, event_id, stored

    def _broken(self, seq: int, event_id: int, before_seq: int, before_id: int | None) -> None:
        self.report.add(
            Problem(
                self.report.chain,
                seq,
                event_id,
                "broken link",
                f"it was chained to an event that is not there: seq {before_seq} "
                f"(id {before_id}) was rewritten, or events before it were removed "
                "and the rest renumbered",
            )
        )

    def finish(self) -> ChainReport:
        report = self.report
        for dangling in self.dangling.values():
            self._broken(*dangling)
        report.last_seq, report.last_hash = self.prev_seq, self.prev_stored
        if report.head_seq is None:
            report.add(
                Problem(report.chain, self.prev_seq, self.prev_id, "head mismatch", "no head")
            )
        elif (report.head_seq, report.head_hash) != (self.prev_seq, self.prev_stored):
            if report.head_seq > self.prev_seq:
                detail = (
                    f"the head is at seq {report.head_seq} but the chain ends at seq "
                    f"{self.prev_seq}: its last events were removed"
                )
            else:
                detail = (
                    f"the head (seq {report.head_seq}, {report.head_hash}) is not the last "
                    f"event (seq {self.prev_seq}, {self.prev_stored})"
                )
            report.add(Problem(report.chain, report.head_seq, None, "head mismatch", detail))
        report.problems.sort(key=lambda p: (p.seq, p.id or 0))
        return report


def audit_verify(*, chain: int | None = None) -> Iterator[ChainReport]:
    """One report per chain (or only `chain`), in chain order, each yielded as soon as its
    last event has been read."""
    slugs = dict(Queue.objects.values_list("pk", "slug"))
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            if outermost:  # first statement of the transaction: one snapshot for all
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SET LOCAL jit = off")
        heads_qs = AuditChainHead.objects.order_by("chain")
        events = AuditEvent.objects.order_by("chain", "seq")
        if chain is not None:
            heads_qs = heads_qs.filter(chain=chain)
            events = events.filter(chain=chain)
        heads = {h.chain: h for h in heads_qs}

        def report_for(key: int) -> ChainReport:
            head = heads.pop(key, None)
            return ChainReport(
                chain=key,
                queue=slugs.get(key) if key else None,
                head_seq=head.seq if head else None,
                head_hash=head.hash if head else None,
            )

        def headless_before(key: int | None) -> Iterator[ChainReport]:
            # Chains with a head but no events at all (every event removed).
            for lone in sorted(k for k in heads if key is None or k < key):
                check = _ChainCheck(report_for(lone))
                yield check.finish()

        rows = (
            events.annotate(data_text=Cast("data", TextField()))
            .values_list(*_COLUMNS)
            .iterator(chunk_size=CHUNK)
        )
        check: _ChainCheck | None = None
        for row in rows:
            if check is None or row[_CHAIN] != check.report.chain:
                if check is not None:
                    yield check.finish()
                yield from headless_before(row[_CHAIN])
                check = _ChainCheck(report_for(row[_CHAIN]))
            check.feed(row)
        if check is not None:
            yield check.finish()
        yield from headless_before(None)


# --- Coverage -----------------------------------------------------------------------------
# Every decided item has the events a real run writes: how it arrived, and how it was
# decided. A chain can be intact and still be missing whole items (rows written around the
# audit writer, an import); this finds them.

CREATED = "recommendation.created"
DECISION_EVENTS: dict[str, tuple[str, ...]] = {
    # decision kind -> the events, any one of which records it
    "human": ("recommendation.decided", "recommendation.blind_reviewed"),
    "external": ("recommendation.human_outcome",),
}


@dataclass(frozen=True)
class Uncovered:
    recommendation_id: str
    external_id: str
    queue: str
    missing: tuple[str, ...]  # the actions it lacks (for a decision: any one of them)


@dataclass
class CoverageReport:
    decided: int = 0  # decided items checked
    uncovered: list[Uncovered] = field(default_factory=list)
    uncovered_count: int = 0


def audit_coverage(*, chain: int | None = None) -> CoverageReport:
    """Decided items (of one queue, with `chain`) that lack their created or decision
    event. One pass over the decisions, two index probes each (audit_rec_idx)."""
    from django.db.models import Exists, OuterRef, Q

    from reviewqueue.models import Decision

    def has(*actions: str) -> Exists:
        return Exists(
            AuditEvent.objects.filter(
                recommendation_id=OuterRef("recommendation_id"), action__in=actions
            )
        )

    decisions = Decision.objects.all()
    if chain is not None:
        decisions = decisions.filter(queue_id=chain)
    report = CoverageReport(decided=decisions.count())
    rows = (
        decisions.annotate(
            has_created=has(CREATED),
            has_human=has(*DECISION_EVENTS["human"]),
            has_external=has(*DECISION_EVENTS["external"]),
        )
        .filter(
            Q(has_created=False)
            | Q(kind="human", has_human=False)
            | Q(kind="external", has_external=False)
        )
        .order_by("decided_at", "id")
        .values_list(
            "recommendation_id",
            "recommendation__external_id",
            "queue__slug",
            "kind",
            "has_created",
            "has_human",
            "has_external",
        )
    )
    for rec_id, external_id, slug, kind, created, human, external in rows.iterator():
        missing: list[str] = [] if created else [CREATED]
        if kind == "human" and not human:
            missing.append(" or ".join(DECISION_EVENTS["human"]))
        if kind == "external" and not external:
            missing.append(" or ".join(DECISION_EVENTS["external"]))
        report.uncovered_count += 1
        if len(report.uncovered) < MAX_PROBLEMS:
            report.uncovered.append(Uncovered(str(rec_id), external_id, slug, tuple(missing)))
    return report
