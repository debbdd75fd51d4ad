"""Bulk decisions (issue 17 item 6): each item claimed, decided and audited on its own."""

import csv
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from reviewqueue.models import AuditEvent, Decision, Execution, Recommendation
from tests.api.test_ingest import assert_problem
from tests.api.test_review import add, as_user, claim
from tests.factories import UserFactory, member
from tests.web.test_reports import table_rows


def bulk(client, ids, outcome="approve", slug="refunds", **extra):
    body = {"ids": [str(i) for i in ids], "outcome": outcome, **extra}
    return client.post(f"/api/v1/queues/{slug}/bulk-decision", body, format="json")


def low(world, name, **overrides):
    return add(world, external_id=name, risk_score=0.1, **overrides)


def test_each_item_is_claimed_decided_and_audited_on_its_own(world, people):
    items = [low(world, f"b{i}") for i in range(3)]
    response = bulk(as_user(people.reviewer), [r.pk for r in items])
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["id"], r["status"], r["outcome"]) for r in results] == [
        (str(r.pk), 200, "approve") for r in items
    ]
    for rec in items:
        decision = Decision.objects.get(recommendation=rec)
        assert (decision.bulk, decision.reviewer_id, decision.outcome) == (
            True,
            people.reviewer.pk,
            "approve",
        )
        assert Execution.objects.filter(recommendation=rec).count() == 1
        actions = list(
            AuditEvent.objects.filter(recommendation=rec)
            .order_by("id")
            .values_list("action", "data")
        )
        assert [a for a, _ in actions] == [
            "recommendation.created",
            "recommendation.claimed",
            "recommendation.decided",
        ]
        assert actions[1][1]["chosen"] is True and actions[2][1]["bulk"] is True


def test_refusals_are_per_item_and_leave_the_others_decided(world, people):
    ok = low(world, "ok")
    risky = add(world, external_id="risky", risk_score=0.9)
    blind = low(world, "blind")
    Recommendation.objects.filter(pk=blind.pk).update(route="shadow", status="shadow")
    held = low(world, "held", priority=50)
    carol = UserFactory(username="carol")
    member(carol, world.queue)
    assert claim(as_user(carol)).json()["id"] == str(held.pk)
    elsewhere = add(world, external_id="x")  # then moved to the other queue
    Recommendation.objects.filter(pk=elsewhere.pk).update(queue=world.other_queue)
    ids = [ok.pk, risky.pk, blind.pk, held.pk, elsewhere.pk]
    results = bulk(as_user(people.reviewer), ids, "reject", reason_code="other").json()["results"]
    got = {r["id"]: (r["status"], r.get("reason")) for r in results}
    assert got == {
        str(ok.pk): (200, None),
        str(risky.pk): (400, "risk_above_bulk_max"),
        str(blind.pk): (409, "blind_review"),
        str(held.pk): (409, "held_by_other"),
        str(elsewhere.pk): (404, "not_in_queue"),
    }
    assert "bulk_max_risk (0.3)" in next(r for r in results if r["id"] == str(risky.pk))["detail"]
    assert Decision.objects.filter(bulk=True).count() == 1
    risky.refresh_from_db()
    assert risky.status == "pending" and risky.claimed_by_id is None


def test_the_reviewers_own_held_item_stays_theirs(world, people):
    mine = low(world, "mine", priority=9)
    other = low(world, "other")
    client = as_user(people.reviewer)
    assert claim(client).json()["id"] == str(mine.pk)
    assert bulk(client, [other.pk]).json()["results"][0]["status"] == 200
    mine.refresh_from_db()
    assert (mine.status, mine.claimed_by_id) == ("in_review", people.reviewer.pk)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": [], "outcome": "approve"}, "ids"),
        ({"ids": ["x"] * 101, "outcome": "approve"}, "ids"),
        ({"ids": ["not-a-uuid"], "outcome": "approve"}, "ids.0"),
        ({"outcome": "approve"}, "ids"),
        ({"ids": ["01890000-0000-7000-8000-000000000001"], "outcome": "modify"}, "outcome"),
        ({"ids": ["01890000-0000-7000-8000-000000000001"], "outcome": "reject"}, "reason_code"),
        (
            {
                "ids": ["01890000-0000-7000-8000-000000000001"],
                "outcome": "reject",
                "reason_code": "nope",
            },
            "reason_code",
        ),
    ],
)
def test_a_bad_request_is_refused_whole_with_the_field_named(world, people, body, field):
    response = as_user(people.reviewer).post(
        "/api/v1/queues/refunds/bulk-decision", body, format="json"
    )
    assert_problem(response, 400)
    assert field in response.json()["errors"], response.json()
    assert not Decision.objects.exists()


def test_duplicate_ids_are_refused_and_nothing_is_decided(world, people):
    rec = low(world, "d")
    response = bulk(as_user(people.reviewer), [rec.pk, rec.pk])
    assert_problem(response, 400)
    assert response.json()["errors"] == {"ids": "Must not repeat an id."}
    assert not Decision.objects.exists()


def test_only_reviewers_of_the_queue_decide_in_bulk(world, people):
    rec = low(world, "r")
    assert_problem(bulk(as_user(people.outsider), [rec.pk]), 403)
    assert_problem(bulk(as_user(people.auditor), [rec.pk]), 403)
    assert_problem(bulk(as_user(people.reviewer), [rec.pk], slug="nope"), 404)
    assert not Decision.objects.exists()


def test_exports_mark_bulk_decisions(world, people):
    from django.test import Client

    rec = low(world, "e")
    bulk(as_user(people.reviewer), [rec.pk])
    client = Client()
    client.force_login(people.admin)
    lines = b"".join(client.get("/api/v1/exports/decisions.jsonl").streaming_content)
    assert b'"bulk": true' in lines or b'"bulk":true' in lines


def test_the_reports_count_bulk_and_undone_decisions_per_reviewer(world, people):
    from tests.api.test_undo import decided, undo, windowed

    items = [low(world, f"r{i}") for i in range(2)]
    assert bulk(as_user(people.reviewer), [r.pk for r in items]).status_code == 200
    windowed(world, 10)
    client = as_user(people.reviewer)
    taken_back = decided(world, client, "approve")
    assert undo(client, taken_back.pk).status_code == 200
    today = timezone.localdate()
    span = {"from": str(today), "to": str(today + timedelta(days=1)), "queue": "refunds"}
    web = Client()
    web.force_login(people.admin)
    html = web.get("/reports/", span).content.decode()
    row = next(r for r in table_rows(html, "reviewers") if r[0] == "rita")
    # two bulk approvals are the decisions; the undone one is counted apart, never in them
    assert (row[1], row[4], row[5]) == ("2", "2", "1")
    rows = list(csv.reader(web.get("/reports/reviewers.csv", span).content.decode().splitlines()))
    assert rows[0][-2:] == ["bulk", "undone"]
    assert [(r[1], r[4], r[5]) for r in rows[1:] if r[0] == "rita"] == [("2", "2", "1")]
