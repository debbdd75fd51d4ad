"""Reason codes as tables (issue 17 #4): the review page shows labels, while the API, the
decision rows and the exports keep the codes."""

import datetime

import pytest
from django.utils import timezone

from reviewqueue.models import Decision, Queue
from tests.api.test_reports import EXPORT, lines
from tests.api.test_review import add, as_user, claim, decide

TABLES = [
    {"code": "wrong_amount", "label": "Wrong amount", "description": "Not what was paid."},
    {"code": "policy_violation", "label": "Against policy"},
    "other",
]


@pytest.fixture
def labelled(world):
    Queue.objects.filter(pk=world.queue.pk).update(
        reason_codes=TABLES, guidelines="## Rules\n<script>alert(1)</script> [p](https://e.com)"
    )


def test_the_api_decides_with_a_code_and_returns_the_code(world, people, labelled):
    rec = add(world)
    client = as_user(people.reviewer)
    assert claim(client).status_code == 200
    response = decide(client, rec.id, outcome="reject", reason_code="policy_violation")
    assert response.status_code == 200, response.content
    assert Decision.objects.get(recommendation=rec).reason_code == "policy_violation"
    body = client.get(f"/api/v1/recommendations/{rec.id}").json()
    assert "policy_violation" in str(body) and "Against policy" not in str(body)


def test_the_api_refuses_a_label_and_names_the_codes(world, people, labelled):
    rec = add(world)
    client = as_user(people.reviewer)
    claim(client)
    response = decide(client, rec.id, outcome="reject", reason_code="Against policy")
    assert response.status_code == 400
    assert "wrong_amount, policy_violation, other" in response.json()["errors"]["reason_code"]


def test_the_export_carries_the_code(world, people, labelled):
    rec = add(world)
    client = as_user(people.reviewer)
    claim(client)
    assert decide(client, rec.id, outcome="reject", reason_code="wrong_amount").status_code == 200
    today = timezone.now().date()
    window = {
        "from": str(today - datetime.timedelta(days=1)),
        "to": str(today + datetime.timedelta(days=1)),
    }
    rows = lines(as_user(people.admin).get(EXPORT, window))
    assert [r["reason_code"] for r in rows] == ["wrong_amount"]


def test_the_review_page_shows_labels_and_sanitised_guidelines(client, world, people, labelled):
    add(world)
    client.force_login(people.reviewer)
    client.post("/queues/refunds/review/claim")
    page = client.get("/queues/refunds/review/?panel=reject").content.decode()
    assert '<option value="wrong_amount" data-hint="Not what was paid."' in page
    assert ">1. Wrong amount</option>" in page and ">3. other</option>" in page
    assert "<h2>Rules</h2>" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert 'href="https://e.com" rel="noopener noreferrer nofollow"' in page
