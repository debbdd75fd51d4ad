"""Counts over a range whose closed part is remembered: the additive sections of the reports
page (reasons, edited fields, versions) and the readiness counts. The closed part of a range
(up to the last UTC midnight at least CLOSED_AFTER ago) never changes, so it is counted once
a day per process and kept in Django's cache, which is per process (LocMemCache: no other
server in the request path); the open rest is counted from the decisions on every request,
and the two are added up key by key.

What may go stale, and for how long: a remembered closed range does not see rows changed
behind the application's back (a data fix in SQL, a restore) for up to TALLY_SECONDS, in
each process that remembered it. Decisions themselves are immutable and land at the moment
they are made, so nothing the application does makes a closed range wrong. Each process
counts a closed range once (the beat's metrics_warm fills only the worker's own memo), and
a memo that is missing, evicted or unreadable means "count from the decisions": slower,
never wrong, so correctness never depends on the cache."""

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from reviewqueue.reporting.buckets import CLOSED_AFTER, Bucket
from reviewqueue.reporting.scope import TrendFilters

log = logging.getLogger(__name__)


Tally = dict[str, tuple[int, ...]]
# How long a closed range's counts stay in a process's cache. They never change (decisions
# are immutable and land at the moment they are made), so this bounds the memory they hold
# and how long a change made behind the application's back stays unseen.
TALLY_SECONDS = 2 * 86400


def _closed_until(lo: datetime, hi: datetime, now: datetime) -> datetime:
    """Where [lo, hi) stops being closed: the last UTC midnight at least CLOSED_AFTER ago,
    within [lo, hi]. The same all day long, so the closed part is counted once a day."""
    settled = (now - CLOSED_AFTER).astimezone(UTC)
    midnight = settled.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(lo, min(hi, midnight))


def tallied(
    section: str,
    filters: TrendFilters,
    lo: datetime,
    hi: datetime,
    count: Callable[[datetime, datetime], Tally],
    now: datetime | None = None,
) -> Tally:
    """Counts per key over [lo, hi): the closed part from this process's cache (counted from
    the decisions on a miss), the open rest from the decisions; added up key by key."""
    cut = _closed_until(lo, hi, now or timezone.now())
    parts: list[Tally] = []
    if cut > lo and not filters.memoisable():
        cut = lo  # a cut that does not exist is counted, never remembered (issue 14 #5)
    if cut > lo:
        key = f"rq:metrics:{section}:{filters.signature()}:{lo.isoformat()}:{cut.isoformat()}"
        closed = _cache_get(key)
        if closed is None:
            closed = count(lo, cut)
            _cache_set(key, closed)
        parts.append(closed)
    if hi > cut:
        parts.append(count(cut, hi))
    total: dict[str, list[int]] = {}
    for part in parts:
        for k, values in part.items():
            into = total.setdefault(k, [0] * len(values))
            for i, v in enumerate(values):
                into[i] += v
    return {k: tuple(v) for k, v in total.items()}


def _cache_get(key: str) -> Any:
    try:
        return cache.get(key)
    except Exception:  # any cache failure (an unpicklable value, a swapped backend) means
        # "not remembered": count instead
        log.warning("metrics cache unavailable; counting from the decisions", exc_info=True)
        return None


def _cache_set(key: str, value: Tally) -> None:
    try:
        cache.set(key, value, TALLY_SECONDS)
    except Exception:  # remembering is an optimisation; the answer is already right
        log.warning("metrics cache unavailable; not remembering", exc_info=True)


def tallied_buckets(
    section: str,
    filters: TrendFilters,
    buckets: Sequence[Bucket],
    count: Callable[[Sequence[Bucket]], dict[Bucket, Tally]],
    now: datetime | None = None,
) -> dict[Bucket, Tally]:
    """Counts per key for each bucket: closed buckets (trend.py's CLOSED_AFTER rule) from this
    process's cache, the rest counted by `count` (one call for all of them, which groups
    adjacent buckets into runs as trend.py does); closed ones counted are then remembered.
    Same staleness bound as `tallied`."""
    closed_before = (now or timezone.now()) - CLOSED_AFTER
    remember = filters.memoisable()
    keys = {
        b: f"rq:metrics:{section}:{filters.signature()}:{b.lo.isoformat()}:{b.hi.isoformat()}"
        for b in buckets
        if remember and b.hi <= closed_before
    }
    found: dict[Bucket, Tally] = {}
    if keys:
        cached = _cache_get_many(list(keys.values()))
        found = {b: cached[k] for b, k in keys.items() if k in cached}
    missing = [b for b in buckets if b not in found]
    if missing:
        counted = count(missing)
        found.update({b: counted.get(b, {}) for b in missing})
        fresh = {keys[b]: found[b] for b in missing if b in keys}
        if fresh:
            _cache_set_many(fresh)
    return found


def _cache_get_many(keys: list[str]) -> dict[str, Any]:
    try:
        return cache.get_many(keys)
    except Exception:  # as _cache_get: not remembered means counted
        log.warning("metrics cache unavailable; counting from the decisions", exc_info=True)
        return {}


def _cache_set_many(values: dict[str, Tally]) -> None:
    try:
        cache.set_many(values, TALLY_SECONDS)
    except Exception:  # as _cache_set
        log.warning("metrics cache unavailable; not remembering", exc_info=True)
