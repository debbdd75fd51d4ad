"""Batch ingest: each item judged alone with the single-item codes."""

import json

import pytest
from django.db import connection

from reviewqueue.models import AuditEvent, Recommendation
from tests.api.test_ingest import assert_problem
from tests.conftest import item

URL = "/api/v1/recommendations/batch"


def post_batch(client, items):
    return client.post(URL, data=json.dumps({"items": items}), content_type="application/json")


def test_each_item_gets_its_own_status(world):
    existing = post_batch(world.client(), [item(external_id="old")]).json()["results"][0]["id"]
    items = [
        item(external_id="new-1"),
        item(external_id="new-2", confidence=2),  # 400
        item(external_id="new-3", queue="other"),  # 403
        item(external_id="old"),  # identical replay: 200
        item(external_id="old", risk_score=0.9),  # conflicting replay: 409
        item(external_id="new-1"),  # replay of item 0 in the same batch: 200
        item(external_id="new-1", priority=5),  # conflicts with item 0: 409
        "not an object",  # 400
    ]
    response = post_batch(world.client(), items)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(8))
    assert [r["status"] for r in results] == [201, 400, 403, 200, 409, 200, 409, 400]
    assert results[1]["errors"] == {"confidence": "Must be at most 1."}
    assert "other" in results[2]["detail"]
    assert results[3]["id"] == existing and results[4]["id"] == existing
    assert results[5]["id"] == results[0]["id"] == results[6]["id"]
    assert results[0]["route"] == "review"
    assert Recommendation.objects.count() == 2
    assert AuditEvent.objects.filter(action="recommendation.created").count() == 2


def test_a_batch_with_no_valid_item_answers_each_items_error(world):
    response = post_batch(world.client(), ["not an object", item(confidence=2)])
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == [400, 400]
    assert Recommendation.objects.count() == 0


def test_each_items_envelope_and_payload_errors_come_together(world):
    bad = item(
        external_id="bad",
        confidence=1.5,
        action={"type": "refund.issue", "payload": {"order_id": "A-1", "amount": -1}},
    )
    del bad["model"]
    results = post_batch(world.client(), [item(external_id="good"), bad]).json()["results"]
    assert [r["status"] for r in results] == [201, 400]
    assert results[1]["errors"] == {
        "confidence": "Must be at most 1.",
        "model": "This field is required.",
        "action.payload.amount": "Must be at least 0.",
    }
    assert Recommendation.objects.count() == 1


def test_a_full_batch_of_1000_is_stored_with_one_audit_event_each(world):
    items = [item(external_id=f"b-{i}") for i in range(1000)]
    results = post_batch(world.client(), items).json()["results"]
    assert {r["status"] for r in results} == {201}
    assert Recommendation.objects.filter(source=world.source).count() == 1000
    assert AuditEvent.objects.filter(action="recommendation.created").count() == 1000


def test_more_than_1000_items_is_400(world):
    body = assert_problem(
        post_batch(world.client(), [item(external_id=f"b-{i}") for i in range(1001)]), 400
    )
    assert body["errors"] == {"items": "At most 1000 items per batch."}
    assert Recommendation.objects.count() == 0


@pytest.mark.parametrize("body", [{}, {"items": []}, {"items": "x"}, {"items": [], "extra": 1}])
def test_a_bad_envelope_is_400(world, body):
    response = world.client().post(URL, data=json.dumps(body), content_type="application/json")
    assert_problem(response, 400)


def test_batch_needs_a_key(world):
    assert_problem(post_batch(world.client(key=False), [item()]), 401)


def test_batch_body_over_its_limit_is_413(world, settings):
    settings.REVIEWQUEUE_MAX_BATCH_BODY_BYTES = 10_000
    assert_problem(post_batch(world.client(), [item(external_id=f"b-{i}") for i in range(50)]), 413)


def test_a_batch_stores_documents_exactly_as_a_single_create_does(world):
    """Batches write their JSON documents through COPY (lib/bulk.py), a single create
    through an INSERT: PostgreSQL stores the same documents, odd values included."""
    metadata = {
        "big": 2**70,  # beyond 64 bits
        "small": 1e-7,
        "text": 'quote " backslash \\ tab \t newline \n é 日本 😀',
        "nested": [[], {}, [1, [2, [3.5, None, True, False]]]],
        "tab\tkey": "x",
    }
    evidence = [{"title": "A \\ title", "url": "https://crm.example/o/1", "snippet": "ü\n"}]
    bodies = [item(external_id=f"odd-{i}", metadata=metadata, evidence=evidence) for i in range(2)]
    response = post_batch(world.client(), bodies)
    assert [r["status"] for r in response.json()["results"]] == [201, 201]
    single = world.client().post(
        "/api/v1/recommendations",
        data=json.dumps(item(external_id="odd-single", metadata=metadata, evidence=evidence)),
        content_type="application/json",
    )
    assert single.status_code == 201, single.content
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT external_id, metadata::text, evidence::text, payload::text"
            " FROM reviewqueue_recommendation WHERE external_id LIKE 'odd-%%'"
        )
        stored = {row[0]: row[1:] for row in cursor.fetchall()}
    assert stored["odd-0"] == stored["odd-1"] == stored["odd-single"]
    rec = Recommendation.objects.get(external_id="odd-0")
    assert rec.metadata == metadata and rec.evidence == evidence
