"""Catastrophic regular expressions (issue 14 #11): a `payload_schema` pattern runs on RE2,
a linear-time engine, at ingest; config refuses patterns RE2 cannot run (backreferences,
lookaround), so none reaches ingest. `(a+)+$` against "aaaa…!" takes exponential time on
Python's `re` (28 a's: minutes) and microseconds here."""

import time

import pytest

from reviewqueue.exceptions import ConfigError
from reviewqueue.lib.schema import FastValidator, schema_problem, validator_for
from reviewqueue.models import ActionType, Recommendation
from reviewqueue.services.setup import config_apply
from tests.conftest import item
from tests.services.test_setup import ACTOR, GOOD

EVIL = "(a+)+$"
ATTACK = "a" * 28 + "!"
BUDGET = 0.5  # seconds; Python's re needs minutes for this input


def evil_schema(**extra):
    return {
        "type": "object",
        "required": ["order_id", "amount"],
        "properties": {
            "order_id": {"type": "string", "pattern": EVIL},
            "amount": {"type": "number"},
            "note": {"type": "string"},
        },
        **extra,
    }


def test_a_catastrophic_pattern_is_checked_in_bounded_time_on_both_paths():
    validator = FastValidator(evil_schema())
    started = time.monotonic()
    errors = validator.errors({"order_id": ATTACK, "amount": 1})
    assert time.monotonic() - started < BUDGET
    assert list(errors) == ["order_id"]
    started = time.monotonic()
    assert list(validator_for(evil_schema()).iter_errors({"order_id": ATTACK, "amount": 1}))
    assert time.monotonic() - started < BUDGET
    assert validator.errors({"order_id": "aaa", "amount": 1}) == {}


def test_pattern_properties_and_additional_properties_run_on_re2_too():
    schema = {
        "type": "object",
        "patternProperties": {EVIL: {"type": "integer"}},
        "additionalProperties": False,
    }
    validator = FastValidator(schema)
    started = time.monotonic()
    errors = validator.errors({ATTACK: 1, "aa": "x"})
    assert time.monotonic() - started < BUDGET
    assert set(errors) == {ATTACK, "aa"}


def test_ingest_of_the_attack_answers_400_quickly(world):
    ActionType.objects.filter(pk=world.action_type.pk).update(payload_schema=evil_schema())
    body = item(action={"type": "refund.issue", "payload": {"order_id": ATTACK, "amount": 1.0}})
    started = time.monotonic()
    response = world.client().post("/api/v1/recommendations", data=body, format="json")
    assert time.monotonic() - started < 5  # the whole request, not only the pattern
    assert response.status_code == 400, response.content
    assert "action.payload.order_id" in response.json()["errors"]
    assert not Recommendation.objects.exists()


@pytest.mark.parametrize("pattern", [r"^(a)\1$", r"^(?=.*\d)\w+$", r"(?<!x)y", "a" * 1001])
def test_config_refuses_patterns_the_linear_engine_cannot_run(pattern):
    problem = schema_problem({"type": "string", "pattern": pattern})
    assert problem is not None and "pattern" in problem
    nested = {"type": "object", "properties": {"a": {"patternProperties": {pattern: {}}}}}
    assert schema_problem(nested) is not None


def test_config_accepts_ordinary_patterns_including_the_catastrophic_one():
    """RE2 runs `(a+)+$` in linear time, so it is allowed; ordinary patterns stay allowed."""
    for pattern in (EVIL, r"^[A-Z]-\d+$", "^https?://"):
        assert schema_problem({"type": "string", "pattern": pattern}) is None


def test_apply_config_refuses_a_lookahead_pattern(db):
    text = GOOD.replace(
        'order_id = { type = "string" }', 'order_id = { type = "string", pattern = "^(?=A)" }'
    )
    assert text != GOOD
    with pytest.raises(ConfigError) as info:
        config_apply(text=text, actor=ACTOR)
    assert any("pattern" in p and "RE2" in p for p in info.value.problems)
