"""When to try again: the one backoff formula and the one Retry-After parser, for the client
and the server alike. Standard library only, so the client package stays standalone and the
server imports these from it.

The server's executions and callbacks reach `delay` through `services/outbox.retry_delay`
(REVIEWQUEUE_RETRY_* settings) and `retry_after_seconds` through `executors/http.py`; the
client's RetryPolicy (`_core.py`) uses both. Pure: the caller passes its numbers (and the
clock), and a test may pass its own random source.
"""

import math
import random
import time
from email.utils import parsedate_to_datetime

# 2 ** 1024 no longer fits in a float; any base times 2 ** 1000 is past every sensible cap.
_MAX_EXPONENT = 1000


def delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: float = 0.5,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed try number `attempt` (1, 2, ...): `base * 2 ** (attempt - 1)`,
    at most `cap`, then shortened by a random share of up to `jitter` of itself, so workers that
    failed together do not all come back together. `jitter=0.5` (the default) waits between half
    the ceiling and all of it: never about zero, which would let a struggling target be hit
    again at once; `jitter=1` is "full jitter", `jitter=0` none. An attempt below 1 counts as 1.
    """
    exponent = max(0, attempt - 1)
    ceiling = cap if exponent > _MAX_EXPONENT else min(cap, base * 2**exponent)
    if not jitter:
        return ceiling
    return (rng or random).uniform(ceiling * (1 - jitter), ceiling)


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a `Retry-After` header asks to wait: delay-seconds or an HTTP date (RFC 9110),
    never below zero; None when absent or unreadable. `now` is the Unix time (default: the
    clock). Callers cap it to what they are willing to wait."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None
