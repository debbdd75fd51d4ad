"""Consensus (issue 18 #1): several reviewers vote; agreement decides, disagreement escalates."""

import json

import pytest
from django.utils import timezone

from reviewqueue.models import AuditEvent, Decision, Execution, Notification, Recommendation, Vote
from reviewqueue.services.bulk import recommendations_bulk_decide
from reviewqueue.services.review import recommendation_claim
from tests.api.test_review import add, as_user, claim, decide

MODIFIED = {"order_id": "A-1", "amount": 30}


@pytest.fixture
def two(world):
    world.queue.reviewers_per_item = 2
    world.queue.save()
    return world


def vote(client, rec, **body):
    assert claim(client).json()["id"] == str(rec.pk)
    response = decide(client, rec.pk, **body)
    assert response.status_code == 200, response.content
    return response.json()


def test_an_item_keeps_the_rule_it_arrived_with(world, two):
    rec = add(two)
    assert rec.reviewers_needed == 2
    world.queue.reviewers_per_item = 1
    world.queue.save()
    rec.refresh_from_db()
    assert rec.reviewers_needed == 2
    assert add(world, external_id="later").reviewers_needed == 1


def test_a_vote_puts_the_item_back_for_the_others(two, people, rob):
    rec = add(two)
    body = vote(as_user(people.reviewer), rec, outcome="approve")
    assert (body["status"], body["decision"], body["execution"]) == ("pending", None, None)
    rec.refresh_from_db()
    assert (rec.status, rec.claimed_by_id) == ("pending", None)
    assert Vote.objects.get(recommendation=rec).reviewer == people.reviewer
    assert not Decision.objects.filter(recommendation=rec).exists()
    event = AuditEvent.objects.get(recommendation=rec, action="recommendation.voted")
    assert (event.data["outcome"], event.data["votes"], event.data["needed"]) == ("approve", 1, 2)


def test_two_reviewers_agree_and_it_decides_once(two, people, rob):
    rec = add(two)
    vote(as_user(people.reviewer), rec, outcome="modify", payload=MODIFIED, reason_code="other")
    # The same payload, written differently (key order, 30.0): the same final payload.
    body = vote(
        as_user(rob),
        rec,
        outcome="modify",
        payload={"amount": 30.0, "order_id": "A-1"},
        reason_code="wrong_amount",
    )
    assert body["status"] == "decided"
    decision = Decision.objects.get(recommendation=rec)
    assert (decision.outcome, decision.reviewer, decision.payload["amount"]) == ("modify", rob, 30)
    assert Execution.objects.filter(recommendation=rec).count() == 1
    event = AuditEvent.objects.get(recommendation=rec, action="recommendation.decided")
    assert event.data["consensus"] == {"votes": 2, "needed": 2, "agreed": True}
    assert AuditEvent.objects.filter(recommendation=rec, action="recommendation.voted").count() == 2


def test_disagreement_escalates_and_the_senior_decides_finally(two, people, rob, settings):
    settings.REVIEWQUEUE_CHAT_WEBHOOK_URL = "http://127.0.0.1:9/chat"
    people.senior.email = "sam@example.org"
    people.senior.save()
    rec = add(two)
    vote(as_user(people.reviewer), rec, outcome="approve")
    body = vote(as_user(rob), rec, outcome="reject", reason_code="policy_violation")
    assert body["status"] == "escalated" and body["escalated_at"] is not None
    assert not Decision.objects.filter(recommendation=rec).exists()
    event = AuditEvent.objects.get(recommendation=rec, action="recommendation.escalated")
    assert event.data["reason"] == "votes_disagree"
    assert [v["reviewer"] for v in event.data["votes"]] == ["rita", "rob"]
    # The disagreement is announced like any escalation: the seniors by email, the chat.
    told = Notification.objects.filter(recommendation=rec, event="escalated")
    assert ("email", people.senior.pk) in set(told.values_list("channel", "recipient_id"))
    assert "votes disagree" in told.get(channel="chat").text
    senior = as_user(people.senior)
    assert claim(senior).json()["id"] == str(rec.pk)
    assert decide(senior, rec.pk, outcome="approve").json()["status"] == "decided"
    decision = Decision.objects.get(recommendation=rec)
    assert (decision.reviewer, decision.outcome) == (people.senior, "approve")
    assert Execution.objects.filter(recommendation=rec).count() == 1
    assert Vote.objects.filter(recommendation=rec).count() == 2


def test_a_voter_cannot_claim_the_item_again(two, people, rob):
    rec = add(two)
    client = as_user(people.reviewer)
    vote(client, rec, outcome="approve")
    # Claim-next skips it (nothing else waits) ...
    assert claim(client).status_code == 204
    assert recommendation_claim(user=people.reviewer, queue="refunds") is None
    # ... and claiming it by id is refused.
    response = client.post(f"/api/v1/recommendations/{rec.pk}/claim")
    assert response.status_code == 409
    assert response.json()["reason"] == "already_voted"
    # Another reviewer gets it.
    assert claim(as_user(rob)).json()["id"] == str(rec.pk)


def test_claim_next_skips_voted_items_for_the_next_one(two, people, rob):
    first = add(two, external_id="first", priority=5)
    second = add(two, external_id="second")
    client = as_user(people.reviewer)
    vote(client, first, outcome="approve")
    assert claim(client).json()["id"] == str(second.pk)


def test_pending_votes_stay_private_on_the_item_page(two, people, rob, client):
    rec = add(two)
    vote(as_user(people.reviewer), rec, outcome="reject", reason_code="other")
    client.force_login(rob)
    page = client.get(f"/recommendations/{rec.pk}/").content.decode()
    assert "private until the item is resolved" in page
    client.force_login(people.admin)
    page = client.get(f"/recommendations/{rec.pk}/").content.decode()
    assert "private until the item is resolved" not in page


def test_the_senior_sees_the_votes_side_by_side(two, people, rob, client):
    rec = add(two)
    vote(as_user(people.reviewer), rec, outcome="modify", payload=MODIFIED, reason_code="other")
    other = {"order_id": "A-1", "amount": 25}
    vote(as_user(rob), rec, outcome="modify", payload=other, reason_code="wrong_amount")
    client.force_login(people.senior)
    client.post("/queues/refunds/review/claim")
    page = client.get("/queues/refunds/review/").content.decode()
    assert "data-votes" in page and "data-votes-diff" in page
    assert "rita" in page and "rob" in page and "25" in page


def test_blind_review_votes_blind(world, people, rob):
    world.queue.stage = "shadow"
    world.queue.blind_review = True
    world.queue.reviewers_per_item = 2
    world.queue.save()
    rec = add(world)
    assert rec.status == "shadow"
    proposal = {"order_id": "A-1", "amount": 40}
    body = vote(as_user(people.reviewer), rec, outcome="approve", payload=proposal)
    assert body["status"] == "shadow" and "confidence" not in body
    assert Vote.objects.get(recommendation=rec).agreed is True
    body = vote(as_user(rob), rec, outcome="approve", payload=proposal)
    assert body["status"] == "decided"
    decision = Decision.objects.get(recommendation=rec)
    assert decision.outcome == "approve"
    assert not Execution.objects.filter(recommendation=rec).exists()  # shadow never executes


def test_undoing_a_vote_reopens_the_slot(two, people, rob):
    two.queue.undo_seconds = 10
    two.queue.save()
    rec = add(two)
    client = as_user(people.reviewer)
    vote(client, rec, outcome="approve")
    response = client.post(f"/api/v1/recommendations/{rec.pk}/undo")
    assert response.status_code == 200, response.content
    rec.refresh_from_db()
    assert (rec.status, rec.claimed_by_id) == ("in_review", people.reviewer.pk)
    assert not Vote.objects.filter(recommendation=rec).exists()
    assert AuditEvent.objects.filter(
        recommendation=rec, action="recommendation.vote_undone"
    ).exists()
    # She votes again, differently; rob agrees; the decision is the new vote's.
    assert decide(client, rec.pk, outcome="reject", reason_code="other").status_code == 200
    assert vote(as_user(rob), rec, outcome="reject", reason_code="other")["status"] == "decided"
    assert Decision.objects.get(recommendation=rec).outcome == "reject"


def test_undoing_a_vote_while_another_holds_the_item(two, people, rob):
    two.queue.undo_seconds = 10
    two.queue.save()
    rec = add(two)
    client = as_user(people.reviewer)
    vote(client, rec, outcome="approve")
    assert claim(as_user(rob)).json()["id"] == str(rec.pk)
    assert client.post(f"/api/v1/recommendations/{rec.pk}/undo").status_code == 200
    rec.refresh_from_db()
    assert (rec.status, rec.claimed_by_id) == ("in_review", rob.pk)
    # Rob's vote is now the first of two; rita may claim again later.
    assert decide(as_user(rob), rec.pk, outcome="approve").json()["status"] == "pending"
    assert vote(client, rec, outcome="approve")["status"] == "decided"


def test_undo_after_the_votes_disagreed_is_refused(two, people, rob):
    two.queue.undo_seconds = 10
    two.queue.save()
    rec = add(two)
    vote(as_user(people.reviewer), rec, outcome="approve")
    rob_client = as_user(rob)
    vote(rob_client, rec, outcome="reject", reason_code="other")
    response = as_user(people.reviewer).post(f"/api/v1/recommendations/{rec.pk}/undo")
    assert response.status_code == 409
    assert response.json()["reason"] == "undo_window_closed"


def test_bulk_counts_as_one_vote(two, people, rob):
    items = [add(two, external_id=f"b{i}", risk_score=0.1) for i in range(2)]
    ids = [str(r.pk) for r in items]
    results = recommendations_bulk_decide(
        user=people.reviewer, queue="refunds", ids=ids, outcome="approve"
    )
    assert [r.status for r in results] == [200, 200]
    assert Vote.objects.filter(reviewer=people.reviewer, bulk=True).count() == 2
    assert not Decision.objects.filter(recommendation__in=items).exists()
    # The same reviewer again: refused per item, never a second vote.
    again = recommendations_bulk_decide(
        user=people.reviewer, queue="refunds", ids=ids, outcome="approve"
    )
    assert {(r.status, r.reason) for r in again} == {(409, "already_voted")}
    assert Vote.objects.filter(reviewer=people.reviewer).count() == 2
    # A second reviewer completes them.
    done = recommendations_bulk_decide(user=rob, queue="refunds", ids=ids, outcome="approve")
    assert [r.status for r in done] == [200, 200]
    assert Decision.objects.filter(recommendation__in=items).count() == 2
    assert Execution.objects.filter(recommendation__in=items).count() == 2


def test_one_reviewer_per_item_is_unchanged(world, people):
    rec = add(world)
    assert vote(as_user(people.reviewer), rec, outcome="approve")["status"] == "decided"
    assert not Vote.objects.exists()


def test_a_decision_on_an_item_not_held_is_still_409(two, people, rob):
    rec = add(two)
    response = decide(as_user(people.reviewer), rec.pk, outcome="approve")
    assert response.status_code == 409
    assert not Vote.objects.exists()
    assert Recommendation.objects.get(pk=rec.pk).status == "pending"
    assert json.loads(response.content)["reason"] == "not_claimed"
    assert timezone.now()


def test_undoing_the_agreeing_vote_undoes_the_decision_and_that_vote(two, people, rob):
    two.queue.undo_seconds = 10
    two.queue.save()
    rec = add(two)
    vote(as_user(people.reviewer), rec, outcome="approve")
    rob_client = as_user(rob)
    vote(rob_client, rec, outcome="approve")
    assert rob_client.post(f"/api/v1/recommendations/{rec.pk}/undo").status_code == 200
    rec.refresh_from_db()
    assert (rec.status, rec.claimed_by_id) == ("in_review", rob.pk)
    assert not Decision.objects.filter(recommendation=rec).exists()
    assert not Execution.objects.filter(recommendation=rec).exists()
    assert list(
        Vote.objects.filter(recommendation=rec).values_list("reviewer__username", flat=True)
    ) == ["rita"]
    # Rob decides again: his new vote completes the consensus (or not) afresh.
    body = decide(rob_client, rec.pk, outcome="reject", reason_code="other").json()
    assert body["status"] == "escalated"


def test_the_api_says_how_many_reviewers_an_item_needs(two, people):
    rec = add(two)
    body = as_user(people.reviewer).get(f"/api/v1/recommendations/{rec.pk}")
    if body.status_code == 200:
        assert body.json()["reviewers_needed"] == 2
    assert claim(as_user(people.reviewer)).json()["reviewers_needed"] == 2
