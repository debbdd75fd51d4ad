"""Pure rules of staged autonomy: routing per stage and with a tripped breaker, legal
stage moves."""

from datetime import UTC, datetime

import pytest

from reviewqueue.domain.routing import effective_stage, route_for
from reviewqueue.models import ActionType, Queue
from reviewqueue.states import Stage, stage_move_is_legal


def _queue(stage, **kw):
    return Queue(
        slug="q",
        stage=stage,
        auto_max_risk=0.3,
        auto_min_confidence=0.95,
        escalate_min_risk=0.7,
        **kw,
    )


@pytest.mark.parametrize(("risk", "confidence"), [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)])
def test_shadow_records_and_approval_reviews_whatever_the_scores(risk, confidence):
    args = {"action_type": ActionType(), "confidence": confidence, "risk": risk}
    assert route_for(queue=_queue("shadow"), **args) == "shadow"
    assert route_for(queue=_queue("approval"), **args) == "review"


def test_autonomous_without_a_ceiling_executes_even_high_risk():
    queue = _queue("autonomous")
    assert route_for(queue=queue, action_type=ActionType(), confidence=0.0, risk=1.0) == "auto"


@pytest.mark.parametrize("stage", ["supervised", "autonomous"])
def test_a_tripped_breaker_makes_the_queue_behave_as_approval(stage):
    queue = _queue(stage, breaker_tripped_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert effective_stage(queue) == Stage.APPROVAL
    assert route_for(queue=queue, action_type=ActionType(), confidence=1, risk=0) == "review"


def test_a_tripped_breaker_does_not_change_shadow():
    queue = _queue("shadow", breaker_tripped_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert route_for(queue=queue, action_type=ActionType(), confidence=1, risk=0) == "shadow"


@pytest.mark.parametrize(
    ("current", "target", "legal"),
    [
        ("shadow", "approval", True),
        ("approval", "supervised", True),
        ("supervised", "autonomous", True),
        ("shadow", "supervised", False),  # no skipping up
        ("approval", "autonomous", False),
        ("autonomous", "shadow", True),  # demotion any distance
        ("supervised", "approval", True),
        ("approval", "approval", False),
    ],
)
def test_stage_moves(current, target, legal):
    assert stage_move_is_legal(Stage(current), Stage(target)) is legal
