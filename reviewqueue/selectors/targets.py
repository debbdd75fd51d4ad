"""Where a source may post: its (queue slug, action type name) pairs with their rows.

Read on every ingest request, changed rarely, so each process keeps a source's targets for
REVIEWQUEUE_CONFIG_CACHE_SECONDS (default 2 s). A change made in this process (apply_config,
a breaker tripping or resuming) forgets them at once; other processes see it within the TTL.
"""

import time

from django.conf import settings

from reviewqueue.models import ActionType, Queue, QueueActionType, Source

Targets = dict[tuple[str, str], tuple[Queue, ActionType]]
_cache: dict[int, tuple[float, Targets]] = {}


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


def targets_forget() -> None:
    _cache.clear()


def targets_changed() -> None:
    """Call inside the transaction that changes a queue, action type or source: forget now,
    and again after commit (a request in between could have re-read the old rows)."""
    from django.db import transaction

    _cache.clear()
    transaction.on_commit(targets_forget)
