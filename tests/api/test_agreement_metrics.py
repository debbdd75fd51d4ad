"""Inter-reviewer agreement (issue 18 #2): the API, the /reports/ section and its CSV."""

import csv
import io

import pytest

from reviewqueue.services.review import recommendation_claim_chosen, recommendation_decide
from tests.api.test_review import add, as_user

# (rita's outcome, rob's outcome) per item; hand-computed: 4 of 6 agree (66.67%),
# each says approve on 3 of 6, so chance agreement is 0.5 and kappa = (2/3 - 1/2) / (1/2) = 1/3.
VOTES = (
    [("approve", "approve")] * 2
    + [("reject", "reject")] * 2
    + [
        ("approve", "reject"),
        ("reject", "approve"),
    ]
)


def cast(user, rec, outcome):
    recommendation_claim_chosen(user=user, recommendation_id=rec.pk)
    reason = "other" if outcome == "reject" else ""
    recommendation_decide(user=user, recommendation_id=rec.pk, outcome=outcome, reason_code=reason)


@pytest.fixture
def voted(world, people, rob):
    world.queue.reviewers_per_item = 2
    world.queue.save()
    for i, (mine, theirs) in enumerate(VOTES):
        rec = add(world, external_id=f"agree-{i}")
        cast(people.reviewer, rec, mine)
        cast(rob, rec, theirs)
    return world


def test_the_api_gives_percent_and_kappa_per_queue_reviewer_and_pair(voted, people):
    response = as_user(people.auditor).get("/api/v1/metrics/agreement?queue=refunds")
    assert response.status_code == 200, response.content
    body = response.json()
    (queue,) = body["queues"]
    assert queue == {
        "queue": "refunds",
        "items": 6,
        "percent_agreement": 0.6667,
        "kappa": 0.3333,
        "reason": None,
    }
    assert [(r["reviewer"], r["kappa"]) for r in body["reviewers"]] == [
        ("rita", 0.3333),
        ("rob", 0.3333),
    ]
    assert body["pairs"][0]["reviewers"] == ["rita", "rob"]


def test_too_few_items_is_null_with_a_reason(world, people, rob):
    world.queue.reviewers_per_item = 2
    world.queue.save()
    rec = add(world)
    cast(people.reviewer, rec, "approve")
    cast(rob, rec, "approve")
    (queue,) = as_user(people.admin).get("/api/v1/metrics/agreement").json()["queues"]
    assert (queue["items"], queue["kappa"], queue["percent_agreement"]) == (1, None, None)
    assert "too few" in queue["reason"]


def test_a_reviewer_sees_only_their_own_line(voted, people):
    body = as_user(people.reviewer).get("/api/v1/metrics/agreement").json()
    assert body["queues"] == [] and body["pairs"] == []
    assert [r["reviewer"] for r in body["reviewers"]] == ["rita"]
    assert as_user(people.reviewer).get("/api/v1/metrics/agreement?reviewer=rob").status_code == 403


def test_pending_votes_are_not_counted(world, people, rob):
    world.queue.reviewers_per_item = 2
    world.queue.save()
    for i in range(6):
        cast(people.reviewer, add(world, external_id=f"p{i}"), "approve")
    body = as_user(people.admin).get("/api/v1/metrics/agreement").json()
    assert body["queues"] == []


def test_bad_dates_are_400(people, world):
    response = as_user(people.admin).get("/api/v1/metrics/agreement?from=yesterday")
    assert response.status_code == 400 and "from" in response.json()["errors"]


def test_the_reports_page_and_csv(voted, people, client):
    client.force_login(people.admin)
    page = client.get("/reports/?queue=refunds").content.decode()
    assert 'data-table="agreement"' in page and "0.33" in page and "66.7%" in page
    response = client.get("/reports/agreement.csv?queue=refunds")
    assert response.status_code == 200
    rows = list(
        csv.reader(
            io.StringIO(
                b"".join(response.streaming_content).decode()
                if response.streaming
                else response.content.decode()
            )
        )
    )
    assert rows[0] == [
        "scope", "queue", "reviewer", "other_reviewer", "items", "percent", "kappa", "note"
    ]  # fmt: skip
    assert rows[1][:7] == ["queue", "refunds", "", "", "6", "0.6667", "0.3333"]
    assert {tuple(r[:4]) for r in rows[2:]} == {
        ("reviewer", "refunds", "rita", ""),
        ("reviewer", "refunds", "rob", ""),
        ("pair", "refunds", "rita", "rob"),
    }


def test_my_numbers_shows_my_agreement_line(voted, people, client):
    client.force_login(people.reviewer)
    page = client.get("/reports/").content.decode()
    assert "My agreement with other reviewers" in page
    assert "rita vs. the others" in page and "rob vs. the others" not in page


@pytest.mark.django_db
def test_the_demo_has_a_consensus_queue_with_agreement_numbers(settings, monkeypatch):
    from io import StringIO

    from django.core.management import call_command

    from reviewqueue.models import Queue, User, Vote

    monkeypatch.setenv("DEMO_WEBHOOK_SECRET", "demo-secret")
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = ["127.0.0.1:9100"]
    call_command("seed_demo", count=3, history_days=3, stdout=StringIO())
    assert Queue.objects.get(slug="accounts").reviewers_per_item == 2
    assert Vote.objects.filter(queue__slug="accounts").count() >= 10
    admin = User.objects.get(username="admin")
    body = as_user(admin).get("/api/v1/metrics/agreement?queue=accounts").json()
    (queue,) = body["queues"]
    assert queue["items"] >= 5 and queue["percent_agreement"] is not None
    assert {r["reviewer"] for r in body["reviewers"]} >= {"carol"}
