"""The anomaly flags' pure rules and sentences (domain/flags.py)."""

import pytest

from reviewqueue.domain.flags import SIGMA, Baseline, flags_for, number
from reviewqueue.models import Queue


def queue(**fields) -> Queue:
    return Queue(slug="refunds", stage="autonomous", **fields)


def flags(q: Queue, payload=None, baselines=None, recent=None, confidence=0.9, risk=0.1):
    return flags_for(
        queue=q,
        action="refund.issue",
        confidence=confidence,
        risk=risk,
        payload=payload if payload is not None else {},
        baselines=baselines or {},
        recent=recent,
        source="bot",
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [(9500.0, "9,500"), (1000, "1,000"), (12.3456, "12.35"), (0.5, "0.5"), (-3.0, "-3")],
)
def test_numbers_read_as_people_write_them(value, text):
    assert number(value) == text


def test_nothing_configured_raises_nothing():
    assert flags(queue(), {"amount": 10**9}, confidence=0.0, risk=1.0, recent=10**6) == []


def test_an_outlier_sentence_says_how_far_from_what():
    q = queue(anomaly={"fields": ["amount"], "z": 4})
    (flag,) = flags(
        q, {"amount": 9500}, {"amount": Baseline(count=1000, mean=100.0, stddev=1540.0)}
    )
    assert flag == {
        "kind": "outlier",
        "detail": f"amount 9,500 is 6.1 {SIGMA} above the last 1,000 refund.issue "
        f"(mean 100, limit 4 {SIGMA})",
    }


def test_exactly_z_is_not_an_outlier_and_just_over_is():
    q = queue(anomaly={"fields": ["amount"], "z": 2})
    base = {"amount": Baseline(count=50, mean=10.0, stddev=1.0)}
    assert flags(q, {"amount": 12.0}, base) == []
    assert flags(q, {"amount": 7.9}, base)[0]["kind"] == "outlier"


@pytest.mark.parametrize("value", [None, "9500", True, float("nan"), float("inf"), [1]])
def test_a_missing_or_non_numeric_value_is_not_an_outlier(value):
    q = queue(anomaly={"fields": ["amount"]})
    payload = {} if value is None else {"amount": value}
    assert flags(q, payload, {"amount": Baseline(count=50, mean=1.0, stddev=0.1)}) == []


def test_the_thresholds_are_inclusive_for_risk_and_strict_for_confidence():
    q = queue(hard_risk_ceiling=0.9, hard_confidence_floor=0.5)
    assert flags(q, risk=0.89, confidence=0.5) == []
    kinds = [f["kind"] for f in flags(q, risk=0.9, confidence=0.49)]
    assert kinds == ["risk_ceiling", "confidence_floor"]


def test_volume_counts_this_item():
    q = queue(max_per_5min=3)
    assert flags(q, recent=3) == []
    assert flags(q, recent=4)[0]["detail"] == (
        "source 'bot' sent 4 items to this queue in the last 5 minutes, more than max_per_5min 3"
    )
