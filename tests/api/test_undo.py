"""Undo (issue 17 item 5): the decider takes a decision back inside the queue's window."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from reviewqueue.models import (
    AuditEvent,
    CallbackDelivery,
    Decision,
    Execution,
    Recommendation,
    UndoneDecision,
)
from reviewqueue.services.execution import execution_run
from tests.api.test_ingest import assert_problem
from tests.api.test_review import add, as_user, claim, decide


def undo(client, rec_id):
    return client.post(f"/api/v1/recommendations/{rec_id}/undo")


def windowed(world, seconds=10):
    world.queue.undo_seconds = seconds
    world.queue.save()
    world.source.callback_url = ""
    world.source.save()


def decided(world, client, outcome="approve", **body):
    rec = add(world)
    assert claim(client).json()["id"] == str(rec.pk)
    response = decide(client, rec.pk, outcome=outcome, **body)
    assert response.status_code == 200, response.content
    return rec


def test_the_execution_waits_for_the_window(world, people):
    windowed(world, 10)
    rec = decided(world, as_user(people.reviewer))
    execution = Execution.objects.get(recommendation=rec)
    decision = Decision.objects.get(recommendation=rec)
    assert execution.next_attempt_at == decision.decided_at + timedelta(seconds=10)
    # A worker that gets the message early finds nothing due.
    assert execution_run(execution_id=execution.pk) is None
    execution.refresh_from_db()
    assert (execution.status, execution.attempts) == ("pending", 0)


def test_undo_inside_the_window_gives_the_item_back_and_cancels_the_action(world, people):
    windowed(world, 10)
    client = as_user(people.reviewer)
    rec = decided(world, client, "reject", reason_code="other", comment="oops")
    response = undo(client, rec.pk)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["decision"], body["execution"]) == ("in_review", None, None)
    assert body["lease_expires_at"] is not None
    rec.refresh_from_db()
    assert (rec.status, rec.claimed_by_id, rec.closed_at) == ("in_review", people.reviewer.pk, None)
    assert not Decision.objects.filter(recommendation=rec).exists()
    kept = UndoneDecision.objects.get(recommendation=rec)
    assert (kept.decision["outcome"], kept.decision["comment"]) == ("reject", "oops")
    event = AuditEvent.objects.get(recommendation=rec, action="recommendation.undone")
    assert event.data["decision"]["outcome"] == "reject" and event.actor_label == "rita"
    # Back in rita's hands: she decides again, and that decision stands.
    assert decide(client, rec.pk, outcome="approve").status_code == 200
    assert Decision.objects.get(recommendation=rec).outcome == "approve"
    assert Execution.objects.filter(recommendation=rec).count() == 1


def test_an_approval_undone_never_executes(world, people):
    windowed(world, 10)
    client = as_user(people.reviewer)
    rec = decided(world, client)
    execution_id = Execution.objects.get(recommendation=rec).pk
    assert undo(client, rec.pk).status_code == 200
    assert not Execution.objects.filter(pk=execution_id).exists()
    with time_machine.travel(timezone.now() + timedelta(seconds=30), tick=False):
        assert execution_run(execution_id=execution_id) is None  # the message arrives: no-op


def test_after_the_window_or_once_started_undo_is_refused(world, people):
    windowed(world, 10)
    client = as_user(people.reviewer)
    rec = decided(world, client)
    with time_machine.travel(timezone.now() + timedelta(seconds=11), tick=False):
        response = undo(client, rec.pk)
    assert_problem(response, 409)
    assert response.json()["reason"] == "undo_window_closed"
    other = add(world, external_id="second")
    claim(client)
    decide(client, other.pk, outcome="approve")
    Execution.objects.filter(recommendation=other).update(status="running", attempts=1)
    response = undo(client, other.pk)
    assert_problem(response, 409)
    assert response.json()["reason"] == "undo_window_closed"
    assert Decision.objects.filter(recommendation=other).exists()


def test_only_the_decider_undoes_and_policy_decisions_are_not_undoable(world, people):
    windowed(world, 10)
    rec = decided(world, as_user(people.reviewer))
    assert_problem(undo(as_user(people.senior), rec.pk), 403)
    assert_problem(undo(as_user(people.outsider), rec.pk), 403)
    waiting = add(world, external_id="waiting")
    response = undo(as_user(people.reviewer), waiting.pk)
    assert_problem(response, 409)
    assert response.json()["reason"] == "not_decided"
    auto = add(world, external_id="auto")
    Recommendation.objects.filter(pk=auto.pk).update(status="decided")
    Decision.objects.create(
        recommendation=auto,
        kind="policy",
        outcome="approve",
        queue=world.queue,
        action_type=world.action_type,
        source=world.source,
        model_name="m",
        model_version="1",
        created_at=auto.created_at,
    )
    response = undo(as_user(people.reviewer), auto.pk)
    assert_problem(response, 409)
    assert response.json()["reason"] == "not_undoable"
    assert "policy" in response.json()["detail"]


def test_undo_off_means_no_wait_and_no_undo(world, people):
    windowed(world, 0)
    client = as_user(people.reviewer)
    rec = decided(world, client)
    execution = Execution.objects.get(recommendation=rec)
    assert execution.next_attempt_at <= timezone.now()
    response = undo(client, rec.pk)
    assert_problem(response, 409)
    assert response.json()["reason"] == "undo_window_closed"


def test_the_callback_waits_for_the_window_and_an_undo_withdraws_it(world, people):
    windowed(world, 10)
    world.source.callback_url = "https://hooks.example/cb"
    world.source.save()
    client = as_user(people.reviewer)
    rec = decided(world, client)
    delivery = CallbackDelivery.objects.get(recommendation=rec, event_type="decision.made")
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=8)
    assert undo(client, rec.pk).status_code == 200
    assert not CallbackDelivery.objects.filter(recommendation=rec).exists()
    # Once the source has been told, the decision stands.
    assert decide(client, rec.pk, outcome="approve").status_code == 200  # rita holds it again
    rec2 = add(world, external_id="told")
    assert claim(client).json()["id"] == str(rec2.pk)
    assert decide(client, rec2.pk, outcome="reject", reason_code="other").status_code == 200
    CallbackDelivery.objects.filter(recommendation=rec2).update(status="delivered", attempts=1)
    response = undo(client, rec2.pk)
    assert_problem(response, 409)
    assert Decision.objects.filter(recommendation=rec2).exists()
