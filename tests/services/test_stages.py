"""Stage moves: an admin advances one step or demotes; audited with the readiness snapshot."""

import pytest

from reviewqueue.exceptions import Forbidden, IllegalMove, ValidationFailed
from reviewqueue.models import AuditEvent, StageChange
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.stages import stage_change
from tests.conftest import item
from tests.factories import UserFactory


def test_advancing_one_step_records_history_and_audit_with_the_readiness_snapshot(world, people):
    world.queue.stage = "shadow"
    world.queue.save()
    change = stage_change(
        queue=world.queue, to_stage="approval", user=people.admin, comment="Agreement looks good."
    )
    world.queue.refresh_from_db()
    assert world.queue.stage == "approval"
    assert (change.from_stage, change.to_stage, change.kind) == ("shadow", "approval", "advance")
    assert change.user == people.admin and change.comment == "Agreement looks good."
    evidence = change.evidence
    assert evidence["stage"] == "shadow" and evidence["next_stage"] == "approval"
    assert evidence["ready"] is False
    (gate,) = evidence["gates"]
    assert gate["key"] == "shadow_agreement" and gate["status"] == "no_data"
    event = AuditEvent.objects.get(action="queue.stage_changed")
    assert event.queue_id == world.queue.pk and event.actor_user == people.admin
    assert event.data["from"] == "shadow" and event.data["to"] == "approval"
    assert event.data["evidence"] == evidence and event.data["stage_change"] == change.pk


def test_the_new_stage_routes_the_next_ingest_at_once(world, people):
    world.queue.auto_max_risk, world.queue.auto_min_confidence = 0.5, 0.5
    world.queue.save()
    first, _ = recommendation_ingest(source=world.source, data=item(external_id="a"))
    assert first.route == "review"  # warms the routing cache
    stage_change(queue=world.queue, to_stage="supervised", user=people.admin, comment="trial")
    second, _ = recommendation_ingest(source=world.source, data=item(external_id="b"))
    assert second.route == "auto"


def test_advancing_with_unmet_gates_needs_a_comment(world, people):
    with pytest.raises(ValidationFailed) as exc:
        stage_change(queue=world.queue, to_stage="supervised", user=people.admin)
    assert "comment" in exc.value.errors
    assert not StageChange.objects.exists()


@pytest.mark.parametrize(
    ("start", "target"),
    [("shadow", "supervised"), ("approval", "autonomous"), ("approval", "approval")],
)
def test_no_skipping_up_and_no_standing_still(world, people, start, target):
    world.queue.stage = start
    world.queue.save()
    with pytest.raises(IllegalMove):
        stage_change(queue=world.queue, to_stage=target, user=people.admin, comment="x")
    world.queue.refresh_from_db()
    assert world.queue.stage == start and not AuditEvent.objects.exists()


def test_demotion_is_allowed_any_time_and_any_distance(world, people):
    world.queue.stage = "autonomous"
    world.queue.save()
    change = stage_change(queue=world.queue, to_stage="shadow", user=people.admin)
    assert change.kind == "demote"
    world.queue.refresh_from_db()
    assert world.queue.stage == "shadow"
    assert change.evidence["stage"] == "autonomous"


def test_only_admins_move_stages(world):
    for role in ("reviewer", "senior", "auditor"):
        user = UserFactory(username=f"u-{role}", role=role)
        with pytest.raises(Forbidden):
            stage_change(queue=world.queue, to_stage="shadow", user=user)
    assert not StageChange.objects.exists()


def test_unknown_stage_is_a_validation_error(world, people):
    with pytest.raises(ValidationFailed):
        stage_change(queue=world.queue, to_stage="yolo", user=people.admin)


def test_a_refused_move_speaks_of_the_queue_not_an_item(world, people):
    from reviewqueue.services.stages import StageMoveRefused

    with pytest.raises(StageMoveRefused) as refused:
        stage_change(queue=world.queue, to_stage="autonomous", user=people.admin)
    assert "item" not in refused.value.title and "queue" in refused.value.title
    assert "item" not in refused.value.detail
    assert "this queue is at approval" in refused.value.detail


def test_the_api_says_queue_when_a_stage_move_is_refused(world, people):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(people.admin)
    response = client.post(
        "/api/v1/queues/refunds/stage", {"to_stage": "autonomous"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert "queue" in body["title"] and "item" not in body["title"]
