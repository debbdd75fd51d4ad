"""The one backoff formula: doubling from the base per failed try, capped, shortened by jitter
of at most the given share, never below zero and never above the cap."""

import random

import pytest
from reviewqueue_client.retrying import delay


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (9, 512.0), (10, 600.0), (50, 600.0)],
)
def test_delay_doubles_from_the_base_until_the_cap(attempt, expected):
    assert delay(attempt, base=2, cap=600, jitter=0) == expected


@pytest.mark.parametrize("attempt", [0, -3])
def test_delay_counts_an_attempt_below_one_as_the_first(attempt):
    assert delay(attempt, base=2, cap=600, jitter=0) == 2.0


def test_delay_of_a_huge_attempt_is_the_cap_not_an_overflow():
    assert delay(100_000, base=2, cap=600, jitter=0) == 600.0


def test_delay_with_default_jitter_waits_between_half_and_all_of_the_capped_delay():
    rng = random.Random(7)
    for attempt in range(1, 15):
        ceiling = min(600.0, 2.0 * 2 ** (attempt - 1))
        for _ in range(50):
            assert ceiling / 2 <= delay(attempt, base=2, cap=600, rng=rng) <= ceiling


def test_delay_with_full_jitter_may_wait_anywhere_up_to_the_capped_delay():
    waits = [delay(3, base=1, cap=60, jitter=1, rng=random.Random(i)) for i in range(200)]
    assert all(0 <= w <= 8 for w in waits)
    assert min(waits) < 2  # some go below half: the whole range is used


def test_delay_spreads_workers_that_failed_together():
    waits = {delay(5, base=2, cap=600, rng=random.Random(i)) for i in range(20)}
    assert len(waits) == 20


def test_delay_is_reproducible_with_a_seeded_random_source():
    assert delay(4, base=2, cap=600, rng=random.Random(1)) == delay(
        4, base=2, cap=600, rng=random.Random(1)
    )


def test_delay_matches_the_execution_and_callback_formula_it_replaced():
    """services/outbox.retry_delay computed min(max, base * 2 ** max(0, attempt - 1)) and
    drew uniform(cap / 2, cap) from the module's random source; same draws, same numbers."""
    for attempt in range(0, 14):
        cap = min(600.0, 2.0 * 2 ** max(0, attempt - 1))
        random.seed(attempt)
        old = random.uniform(cap / 2, cap)
        random.seed(attempt)
        assert delay(attempt, base=2.0, cap=600.0) == old


# --- Retry-After: one parser for the client and the server ---------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("-5", 0.0),
        ("Fri, 04 Dec 2026 12:01:00 GMT", 60.0),  # an HTTP date, a minute after `now`
        ("Fri, 04 Dec 2026 11:00:00 GMT", 0.0),  # already past
        ("soon", None),
        ("inf", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(header, expected):
    from datetime import UTC, datetime

    from reviewqueue_client.retrying import retry_after_seconds

    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC).timestamp()
    assert retry_after_seconds(header, now=now) == expected


def test_the_server_caps_a_retry_after_at_a_day_and_the_client_reads_the_same_header():
    import httpx
    from reviewqueue_client._core import retry_after

    from reviewqueue.executors.http import MAX_RETRY_AFTER_SECONDS, _retry_after

    assert _retry_after("99999999") == MAX_RETRY_AFTER_SECONDS
    assert retry_after(httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    assert _retry_after("7") == 7.0
