"""Rate limits: fixed-window counters in PostgreSQL, shared by every web process.

Used by the per-API-key limit (api/throttling.py), the invalid-credential limit (api/auth.py),
the sign-in limit (web/auth.py) and the per-person report limit (services/report_limits.py).
The same table also holds the anomaly flags' sliding volume counter (`volume_count`, 10-second
steps summed over 5 minutes; see there). A rate is "count/period" (REVIEWQUEUE_INGEST_RATE
"6000/m", REVIEWQUEUE_LOGIN_RATE_USER "10/5m"); windows are aligned to the Unix epoch, so
"10/5m" allows 10 in each of 12:00-12:05, 12:05-12:10, ...

A count is ONE statement (INSERT ... ON CONFLICT DO UPDATE ... RETURNING) on an UNLOGGED
table (models/ratelimit.py): no read-then-write race between processes, no WAL flush, and
no other server in the request path; the counters live in the database the request needs
anyway. Call it outside a transaction (the views do): inside one, the counter row stays
locked until that transaction ends and every request of the same key waits for it.

A limit that cannot be checked (any database error from the counter statement) lets the
request through: the limiter must never be the reason a request fails. One warning line per
minute per process says so, not one per request. Old windows are deleted by
`rate_limits_prune` (beat, every 5 minutes, tasks.rate_limits_prune).
"""

import functools
import hashlib
import ipaddress
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import Error, connection, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.module_loading import import_string

from reviewqueue.models import RateLimitWindow

log = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"(\d+)/(\d*)([smhd])")
WARN_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int


@functools.lru_cache(maxsize=64)
def parse_rate(text: str) -> Rate:
    """'6000/m' -> 6000 per 60 s; '10/5m' -> 10 per 300 s (the syntax django-ratelimit had)."""
    found = _RATE.fullmatch(text.replace(" ", ""))
    if found is None:
        raise ImproperlyConfigured(f"rate {text!r}: write count/period, e.g. 6000/m or 10/5m")
    count, multiple, unit = found.groups()
    seconds = int(multiple or 1) * _PERIODS[unit]
    if seconds < 1:
        raise ImproperlyConfigured(f"rate {text!r}: the period must be at least one second")
    return Rate(limit=int(count), seconds=seconds)


@dataclass(frozen=True)
class Usage:
    """One counter in its current window."""

    key: str
    count: int
    limit: int
    retry_after: int  # whole seconds until the window ends, at least 1

    @property
    def over(self) -> bool:
        """After counting this request: it went past the limit."""
        return self.count > self.limit

    @property
    def used_up(self) -> bool:
        """Before counting: one more would go past the limit."""
        return self.count >= self.limit


def limit_key(scope: str, who: str) -> str:
    """The counter's key. What a client sent (a username) is hashed when it is long or holds
    characters a text column refuses (NUL): every value still gets a counter of its own."""
    if len(who) > 64 or not who.isprintable():
        who = "sha256:" + hashlib.sha256(who.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{scope}:{who}"


@functools.lru_cache(maxsize=4)
def _address_function(path: str) -> Callable[[HttpRequest], str]:
    function: Callable[[HttpRequest], str] = import_string(path)
    return function


def client_address(request: HttpRequest) -> str:
    """The address per-address limits count: the connection's, or behind our own proxy
    (DJANGO_BEHIND_PROXY sets REVIEWQUEUE_CLIENT_IP to reviewqueue.lib.client_ip's function)
    the one the proxy appended to X-Forwarded-For. An IPv6 client counts per /64, since one
    host usually has a whole /64 to pick addresses from."""
    path = getattr(settings, "REVIEWQUEUE_CLIENT_IP", None)
    address = _address_function(path)(request) if path else request.META.get("REMOTE_ADDR", "")
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        return str(address)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _window(rate: Rate, now: datetime) -> tuple[datetime, datetime, int]:
    """(start, end, seconds left) of the window `now` falls in."""
    ts = now.timestamp()
    start = math.floor(ts / rate.seconds) * rate.seconds
    end = start + rate.seconds
    left = max(1, math.ceil(end - ts))
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC), left


_warn_lock = threading.Lock()
_warned_at: float | None = None
_unchecked = 0
_clock = time.monotonic  # a test moves it


def _fail_open(exc: Error) -> None:
    global _warned_at, _unchecked
    now = _clock()
    with _warn_lock:
        _unchecked += 1
        if _warned_at is not None and now - _warned_at < WARN_EVERY_SECONDS:
            return
        _warned_at, unchecked, _unchecked = now, _unchecked, 0
    reason = (str(exc).strip().splitlines() or [""])[0][:200]
    log.warning(
        "rate limits not checked, %d request(s) let through since the last such line "
        "(said at most once a minute): %s: %s",
        unchecked,
        type(exc).__name__,
        reason,
    )


def _checked[T](statement: Callable[[], T]) -> T | None:
    """Run the counter statement; None (and the request goes through) when it fails."""
    try:
        if connection.in_atomic_block:
            # A savepoint: a failed count must not abort the caller's transaction.
            with transaction.atomic():
                return statement()
        return statement()
    except Error as exc:  # any of the driver's errors, a broken connection included
        _fail_open(exc)
        return None


# One statement for any number of counters; constant text, so the server plans it once.
_COUNT_SQL = """
INSERT INTO reviewqueue_ratelimitwindow ("key", window_start, window_end, "count")
SELECT k, s, e, 1 FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS t(k, s, e)
ON CONFLICT ("key", window_start)
DO UPDATE SET "count" = reviewqueue_ratelimitwindow."count" + 1
RETURNING "key", "count"
"""


def rate_limit_hit(limits: Mapping[str, str], *, now: datetime | None = None) -> list[Usage]:
    """Count one request against each counter {key: rate} and return the counts, all in one
    statement. [] when the counters could not be reached (the caller lets the request in)."""
    if not limits:
        return []
    now = now or timezone.now()
    keys, starts, ends = [], [], []
    limit_of, left_of = {}, {}
    # In key order: two statements lock their rows in the same order, so never deadlock.
    for key, text in sorted(limits.items()):
        rate = parse_rate(text)
        start, end, left = _window(rate, now)
        keys.append(key)
        starts.append(start)
        ends.append(end)
        limit_of[key], left_of[key] = rate.limit, left

    def count() -> list[tuple[str, int]]:
        with connection.cursor() as cursor:
            cursor.execute(_COUNT_SQL, [keys, starts, ends])
            return list(cursor.fetchall())

    counted = _checked(count)
    if counted is None:
        return []
    return [Usage(key, n, limit_of[key], left_of[key]) for key, n in counted]


def rate_limit_peek(limits: Mapping[str, str], *, now: datetime | None = None) -> list[Usage]:
    """The counters {key: rate} as they stand, without counting (one SELECT); counters with
    nothing counted in this window are left out. [] when they could not be read. A read, kept
    beside the one write it reads so that the window arithmetic lives in one place."""
    if not limits:
        return []
    now = now or timezone.now()
    match = Q()
    limit_of, left_of = {}, {}
    for key, text in limits.items():
        rate = parse_rate(text)
        start, _, left = _window(rate, now)
        match |= Q(key=key, window_start=start)
        limit_of[key], left_of[key] = rate.limit, left

    def read() -> list[tuple[str, int]]:
        return list(RateLimitWindow.objects.filter(match).values_list("key", "count"))

    found = _checked(read)
    if found is None:
        return []
    return [Usage(key, n, limit_of[key], left_of[key]) for key, n in found]


# The anomaly flags' volume (domain/flags.py): per (source, queue), counted in 10-second
# steps; the last 5 minutes are the current step and the 29 before it. Each step's row is kept
# until the 5 minutes after it have passed (rate_limits_prune deletes it then).
VOLUME_STEP_SECONDS = 10
_VOLUME_SQL = """
WITH counted AS (
    INSERT INTO reviewqueue_ratelimitwindow ("key", window_start, window_end, "count")
    SELECT k, %s, %s, n FROM unnest(%s::text[], %s::int[]) AS t(k, n)
    ON CONFLICT ("key", window_start)
    DO UPDATE SET "count" = reviewqueue_ratelimitwindow."count" + EXCLUDED."count"
    RETURNING "key", "count"
)
SELECT c."key", c."count" + COALESCE((
    SELECT sum(w."count") FROM reviewqueue_ratelimitwindow AS w
    WHERE w."key" = c."key" AND w.window_start > %s AND w.window_start < %s
), 0)
FROM counted AS c
"""


def volume_count(
    *, source_id: int, items: Mapping[int, int], seconds: int, now: datetime | None = None
) -> dict[int, int] | None:
    """Count `items` (queue id -> how many this request stores there) for a source and
    return, per queue, its items over the last `seconds` with these included: one statement
    however many queues (the new step's counts come back from the INSERT; the earlier steps
    are summed through the primary key). Call it outside the ingest's transaction (a counter
    row stays locked until the statement's transaction ends). None when the counters could not
    be reached (no volume flag then, and the warning line)."""
    if not items:
        return {}
    now = now or timezone.now()
    step = Rate(limit=0, seconds=VOLUME_STEP_SECONDS)
    start, end, _ = _window(step, now)
    keep_until = end + timedelta(seconds=seconds)
    since = start - timedelta(seconds=seconds)
    # In key order: two statements lock their rows in the same order, so never deadlock.
    ordered = sorted(
        (f"volume:{source_id}:{queue_id}", queue_id, n) for queue_id, n in items.items()
    )
    queue_of = {key: queue_id for key, queue_id, _ in ordered}

    def count() -> list[tuple[str, int]]:
        with connection.cursor() as cursor:
            cursor.execute(
                _VOLUME_SQL,
                [
                    start,
                    keep_until,
                    [k for k, _, _ in ordered],
                    [n for _, _, n in ordered],
                    since,
                    start,
                ],
            )
            return list(cursor.fetchall())

    counted = _checked(count)
    if counted is None:
        return None
    return {queue_of[key]: int(total) for key, total in counted}


def rate_limits_prune(*, now: datetime | None = None) -> int:
    """Delete the counters of windows that have ended (beat, every 5 minutes). Returns how
    many. Not audited: counters are not a record of anything."""
    deleted, _ = RateLimitWindow.objects.filter(window_end__lt=now or timezone.now()).delete()
    return deleted
