"""What the anomaly flags compare an arriving item with (services/flags.py): the baselines
of its action type's payload fields, and its source's recent volume in the queue. Read in
the ingest's transaction, only for queues that configure them."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection

from reviewqueue.models import AnomalyBaseline, Recommendation
from reviewqueue.services.flags import VOLUME_SECONDS, Baseline

BaselineKey = tuple[int, int, str]  # (queue id, action type id, field)


def baselines_for(pairs: Iterable[tuple[int, int]]) -> dict[BaselineKey, Baseline]:
    """The stored baselines of these (queue id, action type id) pairs: one indexed query."""
    pairs = set(pairs)
    if not pairs:
        return {}
    rows = AnomalyBaseline.objects.filter(
        queue_id__in={q for q, _ in pairs}, action_type_id__in={a for _, a in pairs}
    ).values_list("queue_id", "action_type_id", "field", "count", "mean", "stddev")
    return {
        (q, a, f): Baseline(count=n, mean=mean, stddev=sd)
        for q, a, f, n, mean, sd in rows
        if (q, a) in pairs
    }


def recent_volume(*, source_id: int, queue_id: int, now: datetime, limit: int) -> int:
    """The source's items in the queue over the last 5 minutes, counted up to `limit` + 1
    (enough to know it is over): a bounded scan of the source's newest items."""
    table = connection.ops.quote_name(Recommendation._meta.db_table)
    sql = (
        f"SELECT count(*) FROM (SELECT 1 FROM {table} "  # noqa: S608 - names from the model
        "WHERE source_id = %s AND queue_id = %s AND created_at > %s LIMIT %s) AS recent"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [source_id, queue_id, now - timedelta(seconds=VOLUME_SECONDS), limit + 1]
        )
        (count,) = cursor.fetchone()
    return int(count)
