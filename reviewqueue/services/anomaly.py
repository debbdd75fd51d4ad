"""The anomaly baselines: for each queue that names `anomaly.fields`, the count, mean and
standard deviation of each field over each of its action types' last `window` items.

Refreshed by a periodic job (tasks.anomaly_baselines_refresh, every 10 s by default), not in
the ingest transaction: one shared aggregate row per (queue, action type, field) updated by
every ingest would make concurrent ingests of one action type wait on each other's row
lock, and a rolled-back ingest would have to undo its update. The job reads the exact last
`window` items through rec_queue_type_created_idx (a bounded index scan, whatever the
history's size), so ingest reads one small row per field and never scans history. The price:
an item is compared with history as of the last refresh (seconds old).

Derived data (recomputable from the recommendations at any time), so not audited.
"""

from typing import Any

from django.db import connection
from django.utils import timezone

from reviewqueue.domain.flags import anomaly_of
from reviewqueue.models import AnomalyBaseline, Queue, QueueActionType, Recommendation

# For each field: its value where it is a JSON number, else NULL (count/avg/stddev skip it).
_VALUE = "CASE WHEN jsonb_typeof(payload -> %s) = 'number' THEN (payload ->> %s)::float8 END"


def _window_stats(
    queue_id: int, action_type_id: int, fields: tuple[str, ...], window: int
) -> list[tuple[int, float | None, float | None]]:
    table = connection.ops.quote_name(Recommendation._meta.db_table)
    values = ", ".join(f"{_VALUE} AS v{i}" for i in range(len(fields)))
    aggregates = ", ".join(f"count(v{i}), avg(v{i}), stddev_samp(v{i})" for i in range(len(fields)))
    # Names from the model and a counter; every value is a parameter.
    sql = (
        f"SELECT {aggregates} FROM (SELECT {values} FROM {table} "  # noqa: S608
        "WHERE queue_id = %s AND action_type_id = %s ORDER BY created_at DESC LIMIT %s) AS w"
    )
    params: list[Any] = [p for f in fields for p in (f, f)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, queue_id, action_type_id, window])
        row = cursor.fetchone()
    return [(int(row[3 * i]), row[3 * i + 1], row[3 * i + 2]) for i in range(len(fields))]


def baselines_refresh() -> int:
    """Recompute every configured baseline and drop those no longer configured. Returns the
    number of baselines written."""
    now = timezone.now()
    written = 0
    keep: set[tuple[int, int, str]] = set()
    queues = {q.pk: q for q in Queue.objects.exclude(anomaly={})}
    links = QueueActionType.objects.filter(queue_id__in=list(queues)).values_list(
        "queue_id", "action_type_id"
    )
    for queue_id, action_type_id in links:
        anomaly = anomaly_of(queues[queue_id])
        if anomaly is None:
            continue
        stats = _window_stats(queue_id, action_type_id, anomaly.fields, anomaly.window)
        rows = [
            AnomalyBaseline(
                queue_id=queue_id,
                action_type_id=action_type_id,
                field=field,
                window=anomaly.window,
                count=count,
                mean=mean,
                stddev=stddev,
                refreshed_at=now,
            )
            for field, (count, mean, stddev) in zip(anomaly.fields, stats, strict=True)
        ]
        # An upsert: a refresh running beside another (a slow run, a manual one) cannot fail.
        AnomalyBaseline.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["queue", "action_type", "field"],
            update_fields=["window", "count", "mean", "stddev", "refreshed_at"],
        )
        keep.update((queue_id, action_type_id, r.field) for r in rows)
        written += len(rows)
    stale = [
        pk
        for pk, q, a, f in AnomalyBaseline.objects.values_list(
            "pk", "queue_id", "action_type_id", "field"
        )
        if (q, a, f) not in keep
    ]
    if stale:
        AnomalyBaseline.objects.filter(pk__in=stale).delete()
    return written
