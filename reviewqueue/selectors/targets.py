"""Where a source may post, and how each queue routes right now.

Two reads with two freshness rules:

- `targets_for(source)`: the (queue slug, action type name) pairs a source may post to, with
  their rows. Cached per process for REVIEWQUEUE_CONFIG_CACHE_SECONDS (default 2 s); a change
  made in this process (apply_config, the admin) forgets it at once. What may be stale, for
  at most that long, in other processes: names (a renamed slug or action type, a source
  added to or removed from a queue) and action types' payload schemas and executors. Nothing
  that decides where an item goes is taken from it: the queue rows it holds are only used
  for their id and slug.
- `routing_lock(queue_ids)`: the stage, breaker state, thresholds, anomaly settings and
  baselines and SLA of the queues an ingest writes to, read in the ingest's transaction with
  `FOR SHARE` on the queue rows. A
  breaker trip, a resume or a stage change updates the queue row, which waits for the
  share locks of ingests in flight, and every ingest that locks after the update commits
  reads the new state: the very next item after a trip is routed to review, in every
  process, with no cache window.
"""

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection

from reviewqueue.domain.flags import Baseline
from reviewqueue.models import ActionType, AnomalyBaseline, Queue, QueueActionType, Source

# (queue id, action type id) -> that action type's baselines in that queue, by field
Baselines = dict[tuple[int, int], dict[str, Baseline]]

Targets = dict[tuple[str, str], tuple[Queue, ActionType]]
_cache: dict[int, tuple[float, Targets]] = {}

# Every Queue column routing and the new item's timing depend on (domain/routing.py,
# services/ingest.py). Read fresh on each ingest; never from the targets cache.
ROUTING_FIELDS = (
    "stage",
    "breaker_tripped_at",
    "auto_max_risk",
    "auto_min_confidence",
    "escalate_min_risk",
    "qa_sample_rate",
    "hard_risk_ceiling",
    "hard_confidence_floor",
    "max_per_5min",
    "anomaly",
    "sla_minutes",
    "reviewers_per_item",
)


def _converter(name: str) -> Callable[[Any], Any]:
    """How a raw column value becomes the model's value (JSON arrives as text)."""
    field = Queue._meta.get_field(name)
    from_db = getattr(field, "from_db_value", None)
    if from_db is None:
        return lambda value: value
    return lambda value: from_db(value, None, connection)


_FROM_DB = {name: _converter(name) for name in ROUTING_FIELDS}


def targets_for(source: Source) -> Targets:
    now = time.monotonic()
    hit = _cache.get(source.pk)
    if hit is not None and hit[0] > now:
        return hit[1]
    rows = QueueActionType.objects.filter(queue__sources=source).select_related(
        "queue", "action_type"
    )
    targets = {(r.queue.slug, r.action_type.name): (r.queue, r.action_type) for r in rows}
    _cache[source.pk] = (now + settings.REVIEWQUEUE_CONFIG_CACHE_SECONDS, targets)
    return targets


@dataclass(frozen=True)
class Routing:
    """What routes a store's items, as committed when its transaction read it."""

    queues: dict[int, Queue]  # fresh copies with their routing columns
    baselines: Baselines  # of queues that name anomaly fields


# The anomaly baselines of a queue that names anomaly fields, as one JSON array (NULL for a
# queue without them, so such a queue costs no lookup): read with the routing state, in the
# same statement, since they decide where the item goes too.
_BASELINES = (
    "CASE WHEN q.anomaly <> '{{}}'::jsonb THEN (SELECT json_agg(json_build_array("
    "b.action_type_id, b.field, b.count, b.mean, b.stddev)) FROM {baselines} AS b "
    "WHERE b.queue_id = q.id) END"
)


def routing_lock(queues: list[Queue]) -> Routing:
    """Fresh copies of `queues` with their routing columns as committed now, share-locked
    until the caller's transaction ends, and their anomaly baselines. Call inside the
    ingest's transaction, before its inserts. One statement on the primary key; rows locked
    in id order, as every writer that locks several queues does."""
    assert connection.in_atomic_block, "routing_lock must run inside the ingest transaction"
    by_id = {q.pk: q for q in queues}
    quote = connection.ops.quote_name
    columns = ", ".join(f"q.{quote(f)}" for f in ROUTING_FIELDS)
    baselines = _BASELINES.format(baselines=quote(AnomalyBaseline._meta.db_table))
    table = quote(Queue._meta.db_table)
    # Names from ROUTING_FIELDS and the models, never from input.
    sql = (
        f"SELECT q.id, {columns}, {baselines} FROM {table} AS q "  # noqa: S608
        "WHERE q.id = ANY(%s) ORDER BY q.id FOR SHARE OF q"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [sorted(by_id)])
        rows = cursor.fetchall()
    fresh: dict[int, Queue] = {}
    found: Baselines = {}
    for pk, *values, stored in rows:
        # A copy: the cached row is shared by every request of this process.
        queue = copy.copy(by_id[pk])
        for name, value in zip(ROUTING_FIELDS, values, strict=True):
            setattr(queue, name, _FROM_DB[name](value))
        fresh[pk] = queue
        for action_type_id, field, count, mean, stddev in _json(stored) or ():
            found.setdefault((pk, action_type_id), {})[field] = Baseline(
                count=count, mean=mean, stddev=stddev
            )
    return Routing(queues=fresh, baselines=found)


def _json(value: Any) -> Any:
    """json columns arrive as text through Django's cursor (it parses JSONField itself)."""
    return json.loads(value) if isinstance(value, str) else value


def targets_forget() -> None:
    _cache.clear()


def targets_changed() -> None:
    """Call inside the transaction that changes a queue, action type or source: forget now,
    and again after commit (a request in between could have re-read the old rows)."""
    from django.db import transaction

    _cache.clear()
    transaction.on_commit(targets_forget)
