# ruff: noqa: F811 (the `wired` fixture is imported from test_execution)
"""Consensus (issue 18 #1) through a real Celery worker: whatever the votes, the action is
carried out exactly once, and only once the votes are settled."""

import time

from reviewqueue.models import Decision, Execution
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.review import (
    recommendation_claim,
    recommendation_claim_chosen,
    recommendation_decide,
)
from reviewqueue.tasks import outbox_sweep
from tests.conftest import item
from tests.tasks.test_execution import wait_status, wired  # noqa: F401 (fixture)


def _two(world):
    world.queue.reviewers_per_item = 2
    world.queue.save()
    rec, _ = recommendation_ingest(source=world.source, data=item())
    return rec


def _vote(user, rec, outcome, **body):
    recommendation_claim_chosen(user=user, recommendation_id=rec.pk)
    recommendation_decide(user=user, recommendation_id=rec.pk, outcome=outcome, **body)


def test_two_reviewers_agree_and_it_executes_once(wired, people, rob, sink, start_worker):
    start_worker()
    rec = _two(wired)
    _vote(people.reviewer, rec, "approve")
    # One vote: nothing leaves the app.
    outbox_sweep()
    time.sleep(0.5)
    assert not Execution.objects.filter(recommendation=rec).exists()
    assert sink.to("/actions/refund") == []
    _vote(rob, rec, "approve")
    wait_status(rec, "succeeded")
    (request,) = sink.wait_for("/actions/refund", 1)
    outbox_sweep()
    time.sleep(0.5)
    assert len(sink.to("/actions/refund")) == 1
    assert request.json()["payload"] == rec.payload
    assert Decision.objects.get(recommendation=rec).reviewer == rob


def test_disagreement_escalates_the_senior_decides_and_it_executes_once(
    wired,
    people,
    rob,
    sink,
    start_worker,
):
    start_worker()
    rec = _two(wired)
    _vote(people.reviewer, rec, "approve")
    _vote(rob, rec, "modify", payload={"order_id": "A-1", "amount": 30}, reason_code="other")
    rec.refresh_from_db()
    assert rec.status == "escalated"
    outbox_sweep()
    time.sleep(0.5)
    assert sink.to("/actions/refund") == []
    claimed = recommendation_claim(user=people.senior, queue=wired.queue)
    assert claimed is not None and claimed.pk == rec.pk
    recommendation_decide(
        user=people.senior,
        recommendation_id=rec.pk,
        outcome="modify",
        payload={"order_id": "A-1", "amount": 35},
        reason_code="wrong_amount",
    )
    wait_status(rec, "succeeded")
    (request,) = sink.wait_for("/actions/refund", 1)
    outbox_sweep()
    time.sleep(0.5)
    assert len(sink.to("/actions/refund")) == 1
    assert request.json()["payload"]["amount"] == 35
    assert Decision.objects.get(recommendation=rec).reviewer == people.senior
