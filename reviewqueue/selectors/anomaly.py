"""What the anomaly flags compare an arriving item's payload with (services/flags.py): the
baselines of its action type's payload fields, read in the ingest's transaction, only for
queues that configure them. (The source's volume is a counter: services/ratelimit.py.)"""

from collections.abc import Iterable

from reviewqueue.models import AnomalyBaseline
from reviewqueue.services.flags import Baseline

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
