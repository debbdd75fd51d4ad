"""Prometheus metrics: counters and histograms the services feed with one-line calls (counted
after commit, so a rolled-back change is never counted), and the scrape.

Counters live in files shared by every process on the machine (see multiproc.py); gauges are
read from the database when scraped (selectors/gauges.py), so they are right whichever
process answers and whatever process changed the rows.

Labels are bounded: a queue label is a configured queue's slug ("(unknown)" for a queue an
ingest request named that its source may not post to), outcomes and executors come from
fixed lists.
"""

import os
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from reviewqueue.observability.multiproc import merged_metrics

if TYPE_CHECKING:
    from reviewqueue.models import Decision, Execution, Recommendation
    from reviewqueue.selectors.targets import Targets
    from reviewqueue.services.ingest import ItemResult

if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and not values.ValueClass._multiprocess:
    # prometheus_client picked in-memory values because something imported it before the
    # variable was set (settings sets it): use the shared files before any metric exists.
    values.ValueClass = values.MultiProcessValue()

UNKNOWN_QUEUE = "(unknown)"
_INGEST_OUTCOMES = {
    200: "replayed",
    201: "created",
    400: "invalid",
    403: "forbidden",
    409: "conflict",
}

INGESTED = Counter(
    "reviewqueue_recommendations_ingested",
    "Recommendations posted, by outcome: created, replayed (identical repost), conflict "
    "(same external_id, other content), invalid (400), forbidden (403).",
    ["queue", "outcome"],
)
DECISIONS = Counter(
    "reviewqueue_decisions",
    "Decisions made by people in the app (API and pages, blind reviews included).",
    ["queue", "outcome"],
)
# Time to decision can be seconds (a fast reviewer) or days (a neglected queue).
DECISION_SECONDS = Histogram(
    "reviewqueue_decision_seconds",
    "Time to decision: from the recommendation's creation to the decision.",
    ["queue"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800),
)
REVIEW_SECONDS = Histogram(
    "reviewqueue_review_seconds",
    "Review time: from the claim of the item to its decision.",
    ["queue"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200),
)
EXECUTIONS = Counter(
    "reviewqueue_executions",
    "Execution attempts finished, by outcome: succeeded, retrying, dead, refused.",
    ["queue", "executor", "outcome"],
)


def ingested(queue: str, outcome: str, count: int = 1) -> None:
    """Count `count` ingested items of one queue once the current transaction commits."""
    transaction.on_commit(lambda: INGESTED.labels(queue, outcome).inc(count))


def ingest_refused(data: Any, targets: "Targets", error: Any) -> None:
    """A single item the service refused (400 or 403) before storing anything."""
    outcome = _INGEST_OUTCOMES.get(getattr(error, "status_code", 400), "invalid")
    INGESTED.labels(_queue_label(data, {slug for slug, _ in targets}), outcome).inc()


def batch_ingested(
    items: Sequence[Any], results: Iterable["ItemResult | None"], targets: "Targets"
) -> None:
    """A batch's outcomes: one increment per (queue, outcome), after commit."""
    known = {slug for slug, _ in targets}
    tally = Tally(
        (_queue_label(items[r.index], known), _INGEST_OUTCOMES.get(r.status, "invalid"))
        for r in results
        if r is not None
    )

    def record() -> None:
        for (queue, outcome), n in tally.items():
            INGESTED.labels(queue, outcome).inc(n)

    transaction.on_commit(record)


def _queue_label(data: Any, known: set[str]) -> str:
    slug = data.get("queue") if isinstance(data, dict) else None
    return slug if isinstance(slug, str) and slug in known else UNKNOWN_QUEUE


def decided(rec: "Recommendation", decision: "Decision") -> None:
    """A person decided `rec`: count it, time it from creation and from the claim."""
    queue = rec.queue.slug
    waited = (decision.decided_at - rec.created_at).total_seconds()
    reviewed = (decision.decided_at - rec.claimed_at).total_seconds() if rec.claimed_at else None

    def record() -> None:
        DECISIONS.labels(queue, decision.outcome).inc()
        DECISION_SECONDS.labels(queue).observe(max(waited, 0.0))
        if reviewed is not None:
            REVIEW_SECONDS.labels(queue).observe(max(reviewed, 0.0))

    transaction.on_commit(record)


def executed(execution: "Execution", status: str) -> None:
    """An execution attempt ended as `status` (succeeded, retrying, dead or refused)."""
    rec = execution.recommendation
    labels = (rec.queue.slug, rec.action_type.executor, str(status))
    transaction.on_commit(lambda: EXECUTIONS.labels(*labels).inc())


class DatabaseGauges(Collector):
    """The backlog, stages, breakers, outstanding executions and notifications, read at
    scrape time."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from django.db import DatabaseError

        from reviewqueue.selectors.gauges import gauges_read
        from reviewqueue.states import Stage

        up = GaugeMetricFamily(
            "reviewqueue_database_up", "1 when the scrape could read the database gauges."
        )
        try:
            gauges = gauges_read()
        except DatabaseError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        depth = GaugeMetricFamily(
            "reviewqueue_queue_depth", "Open items by status.", labels=["queue", "status"]
        )
        overdue = GaugeMetricFamily(
            "reviewqueue_queue_overdue", "Open items past their SLA due time.", labels=["queue"]
        )
        breaker = GaugeMetricFamily(
            "reviewqueue_breaker_open",
            "1 while the queue's circuit breaker has stopped auto-execution.",
            labels=["queue"],
        )
        stage = GaugeMetricFamily(
            "reviewqueue_queue_stage", "1 for the queue's current stage.", labels=["queue", "stage"]
        )
        outstanding = GaugeMetricFamily(
            "reviewqueue_executions_outstanding",
            "Executions not finished yet, by status.",
            labels=["status"],
        )
        for q in gauges.queues:
            for status, n in q.depth.items():
                depth.add_metric([q.slug, status], n)
            overdue.add_metric([q.slug], q.overdue)
            breaker.add_metric([q.slug], 1 if q.breaker_open else 0)
            for s in Stage:
                stage.add_metric([q.slug, s.value], 1 if q.stage == s.value else 0)
        for status, n in gauges.executions_outstanding.items():
            outstanding.add_metric([status], n)
        notifications = GaugeMetricFamily(
            "reviewqueue_notifications",
            "Notifications waiting to be sent (pending) and given up on (dead).",
            labels=["status"],
        )
        for status, n in gauges.notifications.items():
            notifications.add_metric([status], n)
        yield from (up, depth, overdue, breaker, stage, outstanding, notifications)


class _SharedFiles(Collector):
    """Every counter file on the machine: the root's and every process group's."""

    def collect(self) -> Iterable[Any]:
        return merged_metrics()


def metrics_exposition() -> tuple[bytes, str]:
    """The scrape: (body, content type) in the Prometheus text format."""
    registry = CollectorRegistry()
    registry.register(_SharedFiles())
    registry.register(DatabaseGauges())
    return generate_latest(registry), CONTENT_TYPE_LATEST
