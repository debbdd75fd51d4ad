"""Cohen's kappa and percent agreement (domain/agreement.py) against hand-computed tables."""

import pytest

from reviewqueue.domain.agreement import agreement_of, cohen_kappa
from reviewqueue.domain.consensus import all_agree, vote_key


def pairs(table: dict[tuple[str, str], int]) -> list[tuple[str, str]]:
    return [cell for cell, count in table.items() for _ in range(count)]


def test_kappa_of_a_hand_computed_two_by_two_table():
    # 50 items: both approve 20, both reject 15, A approve/B reject 5, A reject/B approve 10.
    # p_o = 35/50 = 0.7; A approves 25/50, B approves 30/50;
    # p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    table = {
        ("approve", "approve"): 20,
        ("approve", "reject"): 5,
        ("reject", "approve"): 10,
        ("reject", "reject"): 15,
    }
    assert cohen_kappa(pairs(table)) == pytest.approx(0.4)
    result = agreement_of(pairs(table))
    assert (result.items, result.percent) == (50, pytest.approx(0.7))


def test_kappa_of_a_three_category_table():
    #            B: approve modify reject | A's total
    # A approve        4      1      0    |  5
    # A modify         1      2      1    |  4
    # A reject         0      0      1    |  1
    # B's total        5      3      2    | 10
    # p_o = (4 + 2 + 1) / 10 = 0.7; p_e = (5*5 + 4*3 + 1*2) / 100 = 0.39;
    # kappa = 0.31 / 0.61 = 0.5081967...
    table = {
        ("approve", "approve"): 4,
        ("approve", "modify"): 1,
        ("modify", "approve"): 1,
        ("modify", "modify"): 2,
        ("modify", "reject"): 1,
        ("reject", "reject"): 1,
    }
    assert cohen_kappa(pairs(table)) == pytest.approx(0.31 / 0.61)
    assert round(cohen_kappa(pairs(table)) or 0, 4) == 0.5082


def test_perfect_agreement_is_one_and_chance_level_is_zero():
    assert cohen_kappa([("approve", "approve"), ("reject", "reject")] * 5) == pytest.approx(1.0)
    # Independent raters: each cell equally often → p_o = p_e = 0.5.
    table = {("a", "a"): 5, ("a", "r"): 5, ("r", "a"): 5, ("r", "r"): 5}
    assert cohen_kappa(pairs(table)) == pytest.approx(0.0)


def test_too_few_items_or_one_label_only_is_null_with_a_reason():
    few = agreement_of([("approve", "approve")] * 3)
    assert (few.percent, few.kappa) == (None, None) and "too few" in few.reason
    same = agreement_of([("approve", "approve")] * 8)
    assert same.percent == 1.0 and same.kappa is None and "kappa undefined" in same.reason
    assert cohen_kappa([]) is None


class _Vote:
    def __init__(self, outcome: str, payload_hash: str = "") -> None:
        self.outcome, self.payload_hash = outcome, payload_hash


def test_votes_agree_on_outcome_and_for_modify_the_payload():
    assert all_agree([_Vote("approve", "x"), _Vote("approve", "y")])
    assert all_agree([_Vote("modify", "h"), _Vote("modify", "h")])
    assert not all_agree([_Vote("modify", "h"), _Vote("modify", "k")])
    assert not all_agree([_Vote("approve"), _Vote("reject")])
    assert vote_key("reject", "x") == ("reject", "")
