"""Shadow stage: the source reports what people actually decided; nothing executes."""

import json

import pytest

from reviewqueue.models import AuditEvent, Decision, Execution
from reviewqueue.services.ingest import recommendation_ingest
from tests.api.test_ingest import assert_problem
from tests.conftest import item


@pytest.fixture
def shadow(world):
    world.queue.stage = "shadow"
    world.queue.save()
    rec, _ = recommendation_ingest(source=world.source, data=item())
    assert rec.status == "shadow"
    return rec


def report(world, rec_id, key=None, **body):
    return world.client(key).post(
        f"/api/v1/recommendations/{rec_id}/human-outcome",
        data=json.dumps(body),
        content_type="application/json",
    )


def test_a_modify_outcome_is_recorded_with_its_diff_and_never_executes(world, shadow):
    response = report(
        world,
        shadow.id,
        outcome="modify",
        payload={"order_id": "A-1", "amount": 30},
        reason_code="wrong_amount",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "decided" and body["decision"]["kind"] == "external"
    assert body["decision"]["diff"] == [{"path": "amount", "op": "replace", "old": 40.0, "new": 30}]
    assert body["decision"]["is_cosmetic"] is False and body["execution"] is None
    assert not Execution.objects.exists()
    assert AuditEvent.objects.get(action="recommendation.human_outcome").actor_label == "refund-bot"


@pytest.mark.parametrize("outcome", ["approve", "reject"])
def test_approve_and_reject_outcomes(world, shadow, outcome):
    assert report(world, shadow.id, outcome=outcome).json()["decision"]["outcome"] == outcome
    assert not Execution.objects.exists()


def test_an_outcome_is_recorded_once(world, shadow):
    report(world, shadow.id, outcome="approve")
    body = assert_problem(report(world, shadow.id, outcome="reject"), 409)
    assert body["reason"] == "already_recorded"
    assert Decision.objects.count() == 1


def test_items_outside_shadow_take_no_outcome(world):
    rec, _ = recommendation_ingest(source=world.source, data=item())
    assert assert_problem(report(world, rec.id, outcome="approve"), 409)["reason"] == "not_shadow"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"outcome": "maybe"}, {"outcome": 'Must be one of: "approve", "modify", "reject".'}),
        (
            {"outcome": "modify"},
            {"payload": "Modify needs the payload people actually used (an object)."},
        ),
        (
            {"outcome": "modify", "payload": {"order_id": "A-1", "amount": 40}},
            {"payload": "The payload is the same as the proposal; report approve."},
        ),
        (
            {"outcome": "modify", "payload": {"order_id": "A-1", "amount": -1}},
            {"payload.amount": "Must be at least 0."},
        ),
        (
            {"outcome": "reject", "reason_code": "vibes"},
            {"reason_code": "Must be one of: wrong_amount, policy_violation, other."},
        ),
    ],
)
def test_bad_outcomes_are_400(world, shadow, body, errors):
    assert assert_problem(report(world, shadow.id, **body), 400)["errors"] == errors
    assert not Decision.objects.exists()


def test_another_sources_item_is_404_and_no_key_is_401(world, shadow):
    assert_problem(report(world, shadow.id, key=world.other_key, outcome="approve"), 404)
    assert_problem(report(world, "not-a-uuid", outcome="approve"), 404)
    assert_problem(report(world, shadow.id, key=False, outcome="approve"), 401)
