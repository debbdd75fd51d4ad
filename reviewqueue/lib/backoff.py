"""Exponential backoff with jitter: the one formula for every retry on the server side.

Executions and callbacks reach it through `services/outbox.retry_delay`, which adds the
target's Retry-After and the REVIEWQUEUE_RETRY_* settings. Pure: the caller passes its
numbers, and a test may pass its own random source. (The client package keeps its own retry
policy for now; the SDK issue owns it.)
"""

import random

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
