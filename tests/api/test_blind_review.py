"""Blind review of shadow items: reviewers decide without seeing the proposal, the app
compares; nothing executes; the proposal leaks in no API response."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from reviewqueue.models import AuditEvent, Decision, Execution, Queue, Recommendation
from reviewqueue.reporting.readiness import shadow_evidence
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.tasks import leases_sweep, outbox_sweep, sla_sweep
from tests.api.test_review import as_user, claim, decide
from tests.conftest import item
from tests.factories import UserFactory, member

SECRET_PAYLOAD = {"order_id": "SECRET-ORDER-77", "amount": 1234.5, "note": "secret note"}
SECRETS = ("SECRET-ORDER-77", "1234.5", "secret note", "SECRET-RATIONALE", "0.8765", "0.4321")


@pytest.fixture
def blind(world):
    Queue.objects.filter(pk=world.queue.pk).update(stage="shadow", blind_review=True)
    world.queue.refresh_from_db()
    return world


def add(world, external_id="b-1", **overrides) -> Recommendation:
    body = item(
        external_id=external_id,
        action={"type": "refund.issue", "payload": SECRET_PAYLOAD},
        confidence=0.8765,
        risk_score=0.4321,
        rationale="SECRET-RATIONALE: refund 1234.5 on SECRET-ORDER-77",
        metadata={"customer_tier": "gold"},
        **overrides,
    )
    rec, _ = recommendation_ingest(source=world.source, data=body)
    assert rec.status == "shadow"
    return rec


def assert_no_proposal(response) -> None:
    text = response.content.decode()
    for secret in SECRETS:
        assert secret not in text, (secret, text)


def test_claim_includes_shadow_items_of_a_blind_queue_without_the_proposal(blind, people):
    rec = add(blind)
    response = claim(as_user(people.reviewer))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(rec.id) and body["status"] == "in_review" and body["blind"] is True
    assert body["action"] == {"type": "refund.issue"}
    for key in ("confidence", "risk_score", "rationale"):
        assert key not in body
    # The inputs stay.
    assert body["evidence"][0]["title"] == "Order A-1"
    assert body["metadata"] == {"customer_tier": "gold"}
    assert_no_proposal(response)


def test_shadow_items_of_a_queue_without_blind_review_are_not_claimable(world, people):
    Queue.objects.filter(pk=world.queue.pk).update(stage="shadow", blind_review=False)
    add(world)
    assert claim(as_user(people.reviewer)).status_code == 204


def test_pending_items_come_before_shadow_items(blind, people):
    shadow = add(blind)
    pending = Recommendation.objects.create(
        **{
            f.name: getattr(shadow, f.name)
            for f in Recommendation._meta.concrete_fields
            if f.name not in ("id", "external_id", "status", "route")
        },
        external_id="p-1",
        status="pending",
        route="review",
    )
    client = as_user(people.reviewer)
    assert claim(client).json()["id"] == str(pending.id)


@pytest.mark.parametrize(
    ("payload", "outcome", "agreed", "cosmetic"),
    [
        (SECRET_PAYLOAD, "approve", True, None),
        ({**SECRET_PAYLOAD, "note": "another note"}, "modify", True, True),
        ({**SECRET_PAYLOAD, "amount": 10.0}, "modify", False, False),
    ],
)
def test_the_app_compares_the_blind_answer_with_the_proposal(
    blind, people, payload, outcome, agreed, cosmetic
):
    rec = add(blind)
    client = as_user(people.reviewer)
    claim(client)
    response = decide(client, rec.id, outcome="modify", payload=payload)
    assert response.status_code == 200, response.json()
    assert "1234.5" not in response.content.decode() or payload["amount"] == 1234.5
    body = response.json()
    assert body["status"] == "decided" and "diff" not in body["decision"]
    decision = Decision.objects.get(recommendation=rec)
    assert (decision.kind, decision.outcome, decision.is_cosmetic) == ("human", outcome, cosmetic)
    assert decision.reviewer == people.reviewer
    event = AuditEvent.objects.get(action="recommendation.blind_reviewed")
    assert event.data["agreed"] is agreed and event.data["outcome"] == outcome
    assert not Execution.objects.exists()
    assert not AuditEvent.objects.filter(action="recommendation.decided").exists()


def test_blind_reject_needs_a_reason_and_never_agrees(blind, people):
    rec = add(blind)
    client = as_user(people.reviewer)
    claim(client)
    assert decide(client, rec.id, outcome="reject").status_code == 400
    response = decide(client, rec.id, outcome="reject", reason_code="policy_violation")
    assert response.status_code == 200
    assert AuditEvent.objects.get(action="recommendation.blind_reviewed").data["agreed"] is False


def test_blind_approve_without_a_payload_is_refused(blind, people):
    rec = add(blind)
    client = as_user(people.reviewer)
    claim(client)
    response = decide(client, rec.id, outcome="approve")
    assert response.status_code == 400 and "payload" in response.json()["errors"]
    assert_no_proposal(response)


def test_blind_decisions_count_as_compared_items(blind, people):
    client = as_user(people.reviewer)
    answers = [SECRET_PAYLOAD, {**SECRET_PAYLOAD, "note": "x"}, {**SECRET_PAYLOAD, "amount": 1.0}]
    for i, payload in enumerate(answers):
        rec = add(blind, external_id=f"c-{i}")
        assert claim(client).json()["id"] == str(rec.id)
        assert decide(client, rec.id, outcome="modify", payload=payload).status_code == 200
    evidence = shadow_evidence(queue=blind.queue, window=200)
    assert (evidence.agreed, evidence.compared) == (2, 3)


def test_get_hides_the_proposal_from_reviewers_not_from_the_source_or_auditors(blind, people):
    rec = add(blind)
    url = f"/api/v1/recommendations/{rec.id}"
    reviewer = as_user(people.reviewer).get(url)
    assert reviewer.status_code == 200 and reviewer.json()["blind"] is True
    assert_no_proposal(reviewer)
    assert blind.client().get(url).json()["action"]["payload"] == SECRET_PAYLOAD
    assert as_user(people.auditor).get(url).json()["action"]["payload"] == SECRET_PAYLOAD


def test_release_and_lease_expiry_return_blind_items_to_the_shadow_pool(blind, people):
    rec = add(blind)
    client = as_user(people.reviewer)
    claim(client)
    released = client.post(f"/api/v1/recommendations/{rec.id}/release")
    assert released.status_code == 200 and released.json()["status"] == "shadow"
    assert_no_proposal(released)
    claim(client)
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert leases_sweep() == 1
    rec.refresh_from_db()
    assert rec.status == "shadow" and rec.claimed_by is None


def test_shadow_items_never_execute_through_retries_and_sweeps(blind, people):
    rec = add(blind)
    decided = add(blind, external_id="b-2")
    client = as_user(people.reviewer)
    claim(client)  # takes the older item first
    client.post(f"/api/v1/recommendations/{rec.id}/release")
    assert claim(client).json()["id"] == str(rec.id)
    decide(client, rec.id, outcome="modify", payload=SECRET_PAYLOAD)
    outcome = blind.client().post(
        f"/api/v1/recommendations/{decided.id}/human-outcome",
        data=json.dumps({"outcome": "approve"}),
        content_type="application/json",
    )
    assert outcome.status_code == 200
    # A second outcome on a blind-reviewed item is refused, not a second decision.
    again = blind.client().post(
        f"/api/v1/recommendations/{rec.id}/human-outcome",
        data=json.dumps({"outcome": "approve"}),
        content_type="application/json",
    )
    assert again.status_code == 409
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        outbox_sweep()
        sla_sweep()
        leases_sweep()
    assert not Execution.objects.exists()
    assert Decision.objects.filter(kind="policy").count() == 0


# --- After the decision (issue 14 #7): the outcome, the payload and the numbers ------------------


@pytest.fixture
def decided_blind(blind, people):
    """Rita's blind answer equals the hidden proposal, so the app records an approve (whose
    payload and hash are the proposal's)."""
    rec = add(blind)
    client = as_user(people.reviewer)
    claim(client)
    response = decide(client, rec.id, outcome="modify", payload=SECRET_PAYLOAD)
    assert response.status_code == 200
    assert Decision.objects.get(recommendation=rec).outcome == "approve"
    return rec


def test_a_blind_decision_is_shown_to_other_reviewers_as_recorded_without_the_proposal(
    blind, people, decided_blind
):
    colleague = UserFactory(username="bob2")
    member(colleague, blind.queue)
    response = as_user(colleague).get(f"/api/v1/recommendations/{decided_blind.id}")
    assert response.status_code == 200
    decision = response.json()["decision"]
    assert decision["outcome"] == "recorded"
    for key in ("payload", "payload_hash", "diff", "is_cosmetic"):
        assert key not in decision
    assert_no_proposal(response)


def test_the_reviewer_who_decided_blind_never_learns_whether_they_matched(
    blind, people, decided_blind
):
    response = as_user(people.reviewer).get(f"/api/v1/recommendations/{decided_blind.id}")
    decision = response.json()["decision"]
    assert decision["outcome"] == "recorded"
    assert "payload_hash" not in decision and "is_cosmetic" not in decision
    assert "approve" not in response.content.decode()


def test_auditors_still_see_the_blind_outcome_and_payload(blind, people, decided_blind):
    response = as_user(people.auditor).get(f"/api/v1/recommendations/{decided_blind.id}")
    decision = response.json()["decision"]
    assert decision["outcome"] == "approve" and decision["payload"] == SECRET_PAYLOAD


def test_the_item_page_shows_a_blind_decision_as_recorded(blind, people, decided_blind):
    from django.test import Client

    url = f"/recommendations/{decided_blind.id}/"
    own = Client()
    own.force_login(people.reviewer)
    page = own.get(url).content.decode()
    assert "data-blind-outcome" in page and "tag-approve" not in page and "tag-modify" not in page
    assert "Your action" in page and "SECRET-ORDER-77" in page  # her own answer
    colleague = UserFactory(username="bob2")
    member(colleague, blind.queue)
    other = Client()
    other.force_login(colleague)
    page = other.get(url).content.decode()
    assert "data-blind-outcome" in page and "tag-approve" not in page
    for secret in SECRETS:
        assert secret not in page


def test_a_reviewers_own_numbers_leave_out_blind_decisions(blind, people):
    from reviewqueue.reporting.parameters import parse_trend_request
    from reviewqueue.reporting.report import report_for

    rec = add(blind)
    client = as_user(people.reviewer)
    claim(client)
    # An enum-like field edited: her "most edited fields" would show the path "note", and a
    # modify vs an approve in her trend would tell her she did not match.
    decide(client, rec.id, outcome="modify", payload={**SECRET_PAYLOAD, "amount": 1.0})
    request = parse_trend_request({})
    own = report_for(user=people.reviewer, request=request)
    assert own.total.decisions == 0 and own.modifications == 0 and own.fields == []
    assert all(v.compared == 0 for v in own.models)
    trend = client.get("/api/v1/metrics/trend").json()
    assert sum(b["decisions"] for b in trend["buckets"]) == 0
    audited = report_for(user=people.auditor, request=request)
    assert audited.total.decisions == 1 and audited.modifications == 1
    assert [f.path for f in audited.fields] == ["amount"]
