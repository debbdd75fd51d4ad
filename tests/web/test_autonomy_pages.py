"""Staged-autonomy pages: blind review on the review page, the queue page with its stage
history and the admin's stage form, the QA list, expired counts on the queue list."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from reviewqueue.models import AuditEvent, Decision, QaReview, Queue, StageChange
from reviewqueue.services import qa
from reviewqueue.services.ingest import recommendation_ingest, recommendation_ingest_batch
from reviewqueue.services.review import recommendation_claim, recommendation_decide
from reviewqueue.services.shadow import recommendation_record_outcome
from reviewqueue.services.sla import sla_sweep
from tests.api.test_blind_review import SECRET_PAYLOAD, SECRETS, add
from tests.conftest import item
from tests.factories import UserFactory, member

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def blind(world):
    Queue.objects.filter(pk=world.queue.pk).update(stage="shadow", blind_review=True)
    world.queue.refresh_from_db()
    return world


def assert_hidden(html: str) -> None:
    for secret in SECRETS:
        assert secret not in html, secret


def test_blind_review_page_shows_inputs_but_never_the_proposal(blind, people, client):
    add(blind)
    client.force_login(people.reviewer)
    client.post("/queues/refunds/review/claim")
    for url in ("/queues/refunds/review/", "/queues/refunds/review/?panel=modify"):
        html = client.get(url).content.decode()
        assert "Blind review" in html and "Order A-1" in html and "gold" in html
        assert 'data-action="approve"' not in html
        assert_hidden(html)


def test_blind_review_through_the_form_records_the_comparison(blind, people, client):
    rec = add(blind)
    client.force_login(people.reviewer)
    client.post("/queues/refunds/review/claim")
    response = client.post(
        f"/queues/refunds/review/{rec.pk}/decide",
        {
            "outcome": "modify",
            "payload.order_id": "SECRET-ORDER-77",
            "payload.amount": "1234.5",
            "payload.note": "typed by hand",
        },
        **HX,
    )
    assert response.status_code == 200
    assert "Recorded your blind review" in response.content.decode()
    decision = Decision.objects.get(recommendation=rec)
    assert (decision.outcome, decision.is_cosmetic) == ("modify", True)
    assert AuditEvent.objects.get(action="recommendation.blind_reviewed").data["agreed"] is True


def test_a_refused_blind_form_does_not_leak_the_proposal(blind, people, client):
    rec = add(blind)
    client.force_login(people.reviewer)
    client.post("/queues/refunds/review/claim")
    response = client.post(f"/queues/refunds/review/{rec.pk}/decide", {"outcome": "modify"}, **HX)
    assert response.status_code == 400
    assert_hidden(response.content.decode())


def test_item_page_hides_the_proposal_from_reviewers_not_from_auditors(blind, people, client):
    rec = add(blind)
    recommendation_claim(user=people.reviewer, queue=blind.queue)
    recommendation_decide(
        user=people.reviewer,
        recommendation_id=rec.pk,
        outcome="modify",
        payload={**SECRET_PAYLOAD, "amount": 1.0, "note": "x"},
    )
    client.force_login(people.reviewer)
    html = client.get(f"/recommendations/{rec.pk}/").content.decode()
    assert "Blind review" in html
    assert "1234.5" not in html and "SECRET-RATIONALE" not in html and "0.8765" not in html
    client.force_login(people.auditor)
    assert "SECRET-RATIONALE" in client.get(f"/recommendations/{rec.pk}/").content.decode()


def test_queue_page_lists_disagreements_for_auditors(blind, people, client):
    agreeing, disagreeing = add(blind, external_id="ok"), add(blind, external_id="bad")
    recommendation_record_outcome(
        source=blind.source, recommendation_id=agreeing.pk, outcome="approve"
    )
    recommendation_record_outcome(
        source=blind.source,
        recommendation_id=disagreeing.pk,
        outcome="reject",
        reason_code="policy_violation",
    )
    client.force_login(people.admin)
    html = client.get("/queues/refunds/").content.decode()
    section = html[html.index('id="disagreements"') :]
    assert "bad" in section and ">ok<" not in section and "policy_violation" in section
    client.force_login(people.reviewer)
    assert 'id="disagreements"' not in client.get("/queues/refunds/").content.decode()


def test_admin_advances_from_the_queue_page_and_the_history_shows_it(world, people, client):
    client.force_login(people.admin)
    response = client.post(
        "/queues/refunds/stage", {"to_stage": "supervised", "comment": "30 good days"}
    )
    assert response.status_code == 302
    world.queue.refresh_from_db()
    assert world.queue.stage == "supervised"
    html = client.get("/queues/refunds/").content.decode()
    assert 'data-stage-change="advance"' in html and "30 good days" in html
    assert "approval → supervised" in html and "ada" in html


def test_reviewers_cannot_change_stages_and_outsiders_do_not_see_the_page(world, people, client):
    client.force_login(people.reviewer)
    assert 'name="to_stage"' not in client.get("/queues/refunds/").content.decode()
    response = client.post("/queues/refunds/stage", {"to_stage": "shadow"})
    assert response.status_code == 403 and not StageChange.objects.exists()
    client.force_login(people.outsider)
    assert client.get("/queues/refunds/").status_code == 404


def test_an_advance_without_a_reason_while_gates_are_unmet_is_refused(world, people, client):
    client.force_login(people.admin)
    response = client.post("/queues/refunds/stage", {"to_stage": "supervised"})
    assert response.status_code == 400
    assert "say why you advance anyway" in response.content.decode()


def test_qa_list_and_verdicts(world, people, client):
    previous = qa.qa_random(random.Random(1))
    try:
        Queue.objects.filter(pk=world.queue.pk).update(stage="supervised", qa_sample_rate=1.0)
        recommendation_ingest_batch(
            source=world.source,
            items=[item(external_id=f"q{i}", risk_score=0.1, confidence=0.99) for i in range(2)],
        )
    finally:
        qa.qa_random(previous)
    client.force_login(people.reviewer)
    html = client.get("/queues/refunds/qa/").content.decode()
    assert html.count("data-qa-item=") == 2
    rec_id = html.split('data-qa-item="')[1].split('"')[0]
    response = client.post(
        f"/queues/refunds/qa/{rec_id}", {"verdict": "incorrect", "reason_code": "wrong_amount"}
    )
    assert response.status_code == 302
    review = QaReview.objects.get()
    assert str(review.recommendation_id) == rec_id and review.verdict == "incorrect"
    assert client.get("/queues/refunds/qa/").content.decode().count("data-qa-item=") == 1


def test_queue_list_shows_expired_apart(world, people, client):
    soon = (timezone.now() + timedelta(seconds=1)).isoformat()
    recommendation_ingest(source=world.source, data=item(external_id="e", expires_at=soon))
    sla_sweep(now=timezone.now() + timedelta(seconds=5))
    client.force_login(people.reviewer)
    html = client.get("/queues/").content.decode()
    row = html[html.index('data-queue="refunds"') :]
    assert 'data-expired><span class="tag">1</span>' in row


def test_shadow_items_of_a_blind_queue_count_as_waiting(blind, people, client):
    from reviewqueue.selectors.gauges import gauges_read
    from reviewqueue.selectors.queues import queue_rows_for

    for n in range(3):
        add(blind, external_id=f"s-{n}")
    client.force_login(people.reviewer)
    (row,) = queue_rows_for(user=people.reviewer)
    assert row.waiting == 3 and row.oldest_waiting_at is not None
    html = client.get("/queues/").content.decode()
    assert "<strong>3</strong>" in html
    html = client.post("/queues/refunds/review/claim", follow=True).content.decode()
    assert "2 more waiting" in html
    depth = next(q for q in gauges_read().queues if q.slug == "refunds").depth
    assert depth["shadow"] == 2 and depth["in_review"] == 1


def test_shadow_items_without_blind_review_wait_for_the_source_not_a_reviewer(
    world, people, client
):
    from reviewqueue.selectors.queues import queue_rows_for

    Queue.objects.filter(pk=world.queue.pk).update(stage="shadow", blind_review=False)
    recommendation_ingest(source=world.source, data=item(external_id="s-1"))
    (row,) = queue_rows_for(user=people.reviewer)
    assert row.waiting == 0  # nobody here can claim it: the source reports the outcome


def test_a_lease_lost_to_the_sweep_says_it_expired_and_who_returned_it(world, people, client):
    from reviewqueue.exceptions import LeaseLost
    from reviewqueue.models import Recommendation
    from reviewqueue.services.leases import leases_return_expired

    rec, _ = recommendation_ingest(source=world.source, data=item(external_id="lease-1"))
    client.force_login(people.reviewer)
    client.post("/queues/refunds/review/claim")
    Recommendation.objects.filter(pk=rec.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert leases_return_expired() == 1
    with pytest.raises(LeaseLost) as lost:
        recommendation_decide(user=people.reviewer, recommendation_id=rec.pk, outcome="approve")
    assert lost.value.extra == {"reason": "lease_expired", "released_by": "lease-sweep"}
    response = client.post(f"/queues/refunds/review/{rec.pk}/decide", {"outcome": "approve"}, **HX)
    assert response.status_code == 409
    html = response.content.decode()
    assert "lease on this item expired" in html and "lease sweep" in html
    assert "have not claimed" not in html


def test_a_lease_lost_to_your_own_release_says_so(world, people):
    from reviewqueue.exceptions import LeaseLost
    from reviewqueue.services.review import recommendation_release

    rec, _ = recommendation_ingest(source=world.source, data=item(external_id="lease-2"))
    recommendation_claim(user=people.reviewer, queue=world.queue)
    recommendation_release(user=people.reviewer, recommendation_id=rec.pk)
    with pytest.raises(LeaseLost) as lost:
        recommendation_decide(user=people.reviewer, recommendation_id=rec.pk, outcome="approve")
    assert lost.value.extra == {"reason": "released", "released_by": "rita"}
    other = UserFactory(username="carol")
    member(other, world.queue)
    with pytest.raises(LeaseLost) as never:
        recommendation_decide(user=other, recommendation_id=rec.pk, outcome="approve")
    assert never.value.extra == {"reason": "not_claimed"}
