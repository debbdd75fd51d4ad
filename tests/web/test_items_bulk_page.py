"""Bulk decisions from the items list (issue 17 #6): a confirmation that says how many and
which are left out, then the decision, each item on its own."""

from django.test import Client

from reviewqueue.models import Decision
from reviewqueue.services.ingest import recommendation_ingest
from tests.conftest import item


def add(world, name, risk=0.1):
    rec, _ = recommendation_ingest(
        source=world.source, data=item(external_id=name, risk_score=risk)
    )
    return rec


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_confirmation_counts_and_names_what_is_left_out_and_changes_nothing(world, people):
    low1, low2, risky = add(world, "low-1"), add(world, "low-2"), add(world, "risky", 0.9)
    client = signed_in(people.reviewer)
    page = client.get("/queues/refunds/items/").content.decode()
    assert 'form="bulk"' in page and "Approve selected" in page
    response = client.post(
        "/queues/refunds/items/bulk",
        {"ids": [low1.pk, low2.pk, risky.pk], "outcome": "approve"},
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "Approve 2 items?" in text
    assert "risky" in text and "above this queue&#x27;s bulk_max_risk (0.3)" in text
    assert not Decision.objects.exists()


def test_confirming_decides_each_item_and_reports_the_refusals(world, people):
    low, risky = add(world, "low"), add(world, "risky", 0.9)
    client = signed_in(people.reviewer)
    response = client.post(
        "/queues/refunds/items/bulk",
        {"ids": [low.pk, risky.pk], "outcome": "reject", "reason_code": "other", "confirm": "1"},
        follow=True,
    )
    text = response.content.decode()
    assert "Rejected 1 of 2 selected items." in text
    assert "risk_above_bulk_max" in text
    decision = Decision.objects.get()
    assert (decision.recommendation_id, decision.bulk, decision.outcome) == (low.pk, True, "reject")


def test_a_reject_without_reason_goes_back_with_the_message(world, people):
    low = add(world, "low")
    response = signed_in(people.reviewer).post(
        "/queues/refunds/items/bulk", {"ids": [low.pk], "outcome": "reject"}, follow=True
    )
    assert "A reason code is required to reject." in response.content.decode()
    assert not Decision.objects.exists()


def test_readers_who_do_not_review_get_no_bulk_form_and_a_403(world, people):
    low = add(world, "low")
    client = signed_in(people.auditor)
    assert 'id="bulk"' not in client.get("/queues/refunds/items/").content.decode()
    response = client.post("/queues/refunds/items/bulk", {"ids": [low.pk], "outcome": "approve"})
    assert response.status_code == 403
    response = signed_in(people.outsider).post(
        "/queues/refunds/items/bulk", {"ids": [low.pk], "outcome": "approve"}
    )
    assert response.status_code == 404
