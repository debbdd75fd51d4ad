"""GET /api/v1/queues/{slug}/items: filters, sorts, keyset pages, bad input, who may read,
and blind items (no proposal, no filtering by what is hidden)."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import signing
from django.utils import timezone

from reviewqueue.models import Queue, Recommendation
from reviewqueue.services.ingest import recommendation_ingest
from tests.api.test_review import as_user, claim, decide
from tests.conftest import item

URL = "/api/v1/queues/refunds/items"


def add(world, external_id: str, **fields) -> Recommendation:
    body_keys = {"payload", "rationale", "confidence", "risk_score", "priority"}
    body = {k: v for k, v in fields.items() if k in body_keys}
    payload = body.pop("payload", {"order_id": f"O-{external_id}", "amount": 10.0})
    rec, _ = recommendation_ingest(
        source=world.source,
        data=item(
            external_id=external_id,
            action={"type": "refund.issue", "payload": payload},
            **body,
        ),
    )
    rest = {k: v for k, v in fields.items() if k not in body_keys}
    if rest:
        Recommendation.objects.filter(pk=rec.pk).update(**rest)
        rec.refresh_from_db()
    return rec


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["external_id"] for r in response.json()["results"]]


def get(client, **params):
    return client.get(URL, params, format="json")


@pytest.fixture
def items(world, people):
    """Eight items of refunds with different values of every filtered field."""
    now = timezone.now()
    t = [now - timedelta(hours=10 - i) for i in range(8)]
    made = {
        "a": add(world, "a", priority=5, risk_score=0.1, confidence=0.9, created_at=t[0]),
        "b": add(world, "b", priority=0, risk_score=0.5, confidence=0.5, created_at=t[1],
                 status="escalated", route="escalated"),
        "c": add(world, "c", priority=0, risk_score=0.9, confidence=0.2, created_at=t[2],
                 rationale="Customer asked twice about the blue kettle",
                 due_at=now - timedelta(minutes=5)),
        "d": add(world, "d", priority=1, risk_score=0.3, confidence=0.7, created_at=t[3],
                 status="decided", model_version="m2", due_at=now - timedelta(minutes=5)),
        "e": add(world, "e", priority=0, risk_score=0.7, confidence=0.99, created_at=t[4],
                 payload={"order_id": "ZEBRA-42", "amount": 3.0}, prompt_version="p9",
                 due_at=now + timedelta(hours=1)),
        "f": add(world, "f", priority=0, risk_score=0.2, confidence=0.6, created_at=t[5],
                 route="auto", status="auto_approved", assigned_to=people.reviewer),
        "g": add(world, "g", priority=2, risk_score=0.6, confidence=0.8, created_at=t[6],
                 assigned_to=people.senior),
        "h": add(world, "h", priority=0, risk_score=0.4, confidence=0.4, created_at=t[7]),
    }  # fmt: skip
    add_other(world)
    return made


def add_other(world):
    rec, _ = recommendation_ingest(
        source=world.other_source, data=item(queue="other", external_id="other-1")
    )
    return rec


# --- order and filters ----------------------------------------------------------------------


def test_default_sort_is_priority_then_oldest(items, people):
    assert ids(get(as_user(people.reviewer))) == ["a", "g", "d", "b", "c", "e", "f", "h"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("priority", ["a", "g", "d", "b", "c", "e", "f", "h"]),
        ("created_at", ["a", "b", "c", "d", "e", "f", "g", "h"]),
        ("-created_at", ["h", "g", "f", "e", "d", "c", "b", "a"]),
        ("risk_score", ["a", "f", "d", "h", "b", "g", "e", "c"]),
        ("-risk_score", ["c", "e", "g", "b", "h", "d", "f", "a"]),
        ("due_at", ["c", "d", "e", "a", "b", "f", "g", "h"]),  # then no due time, by id
    ],
)
def test_each_sort_orders_the_items(items, people, sort, expected):
    assert ids(get(as_user(people.reviewer), sort=sort)) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "escalated"}, {"b"}),
        ({"status": ["escalated", "decided"]}, {"b", "d"}),
        ({"status": "escalated,decided"}, {"b", "d"}),
        ({"route": "auto"}, {"f"}),
        ({"q": "blue kettle"}, {"c"}),  # the rationale
        ({"q": "BLUE KET"}, {"c"}),  # any case
        ({"q": "zebra-4"}, {"e"}),  # a payload value
        ({"q": "order_id"}, set()),  # payload keys are not searched
        ({"q": "b"}, {"b"}),  # short: the start of the external id
        ({"q": "%"}, set()),  # a LIKE wildcard is a character
        ({"risk_min": "0.6"}, {"c", "e", "g"}),
        ({"risk_max": "0.2"}, {"a", "f"}),
        ({"risk_min": "0.3", "risk_max": "0.4"}, {"d", "h"}),
        ({"confidence_min": "0.9"}, {"a", "e"}),
        ({"confidence_max": "0.4"}, {"c", "h"}),
        ({"model_version": "m2"}, {"d"}),
        ({"prompt_version": "p9"}, {"e"}),
        ({"overdue": "true"}, {"c"}),  # d is past due too, but decided
        ({"overdue": "false"}, set("abcdefgh")),
        ({"assigned_to": "sam"}, {"g"}),
        ({"assigned_to": "me"}, {"f"}),  # rita
    ],
)
def test_each_filter_narrows_the_list(items, people, params, expected):
    assert set(ids(get(as_user(people.reviewer), **params))) == expected


def test_filters_combine(items, people):
    response = get(as_user(people.reviewer), status="pending", risk_min="0.5", sort="-risk_score")
    assert ids(response) == ["c", "e", "g"]


def test_other_queues_items_never_appear(items, people):
    assert "other-1" not in ids(get(as_user(people.admin), limit=200))


# --- pages ----------------------------------------------------------------------------------


def walk(client, **params) -> list[str]:
    seen: list[str] = []
    response = get(client, **params)
    while True:
        seen += ids(response)
        next_url = response.json()["next"]
        if next_url is None:
            return seen
        response = client.get(next_url)


@pytest.mark.parametrize("sort", ["priority", "created_at", "-created_at", "risk_score", "due_at"])
def test_pages_walk_every_item_exactly_once(items, people, sort):
    whole = ids(get(as_user(people.senior), sort=sort))
    assert walk(as_user(people.senior), sort=sort, limit=3) == whole


def test_items_arriving_between_pages_are_not_repeated(world, people):
    client = as_user(people.reviewer)
    for i in range(6):
        add(world, f"x{i}", priority=i % 3)
    first = get(client, limit=4)
    seen = ids(first)
    for i in range(3):  # new items, some above the cursor, some below
        add(world, f"new{i}", priority=i)
    response = client.get(first.json()["next"])
    while True:
        seen += ids(response)
        if response.json()["next"] is None:
            break
        response = client.get(response.json()["next"])
    assert len(seen) == len(set(seen))
    assert {f"x{i}" for i in range(6)} <= set(seen)


def test_next_keeps_the_parameters_and_the_last_page_has_none(items, people):
    response = get(as_user(people.reviewer), status="pending", limit=2)
    query = parse_qs(urlparse(response.json()["next"]).query)
    assert query["status"] == ["pending"] and query["limit"] == ["2"] and query["cursor"]
    assert get(as_user(people.reviewer), limit=200).json()["next"] is None


def test_limit_bounds(world, people):
    for i in range(3):
        add(world, f"l{i}")
    assert len(ids(get(as_user(people.reviewer), limit=1))) == 1
    assert len(ids(get(as_user(people.reviewer), limit=200))) == 3


def test_a_page_costs_a_bounded_number_of_statements(world, people, django_assert_max_num_queries):
    for i in range(30):
        add(world, f"q{i}")
    # Assigned items name their assignee: read with the page, not one statement each.
    Recommendation.objects.filter(queue=world.queue).update(assigned_to=people.reviewer)
    client = as_user(people.reviewer)
    # Token lookup (+ its last-used write), the queue, the membership, the blind check and the
    # page itself; not one more per item.
    with django_assert_max_num_queries(8):
        assert len(ids(get(client, limit=30))) == 30


def test_decided_items_in_a_page_show_what_the_item_itself_shows(
    world, people, django_assert_max_num_queries
):
    """A page loads only the columns the representation reads of each decision and
    execution: every field the item's own endpoint shows is in the page, and reading them
    costs no statement per item."""
    client = as_user(people.reviewer)
    for i in range(3):
        add(world, f"d{i}")
    decided = []
    for outcome in ("approve", "reject", "modify"):
        rec_id = claim(client).json()["id"]
        body = {"outcome": outcome}
        if outcome == "reject":
            body["reason_code"] = "other"
        if outcome == "modify":
            body["payload"] = {"order_id": "O-changed", "amount": 5.0}
            body["reason_code"] = "wrong_amount"
        response = decide(client, rec_id, **body)
        assert response.status_code == 200, response.content
        decided.append(rec_id)
    with django_assert_max_num_queries(8):
        page = {r["id"]: r for r in get(client).json()["results"]}
    for rec_id in decided:
        alone = client.get(f"/api/v1/recommendations/{rec_id}").json()
        assert page[rec_id] == alone
        assert page[rec_id]["decision"]["reviewer"] == people.reviewer.username
    approved = [page[i] for i in decided if page[i]["decision"]["outcome"] == "approve"]
    assert approved and approved[0]["execution"]["idempotency_key"]


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"status": "nope"}, "status"),
        ({"status": ["pending", "nope"]}, "status"),
        ({"route": "nope"}, "route"),
        ({"sort": "id"}, "sort"),
        ({"limit": "201"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"risk_min": "x"}, "risk_min"),
        ({"risk_min": "nan"}, "risk_min"),
        ({"risk_max": "1.5"}, "risk_max"),
        ({"confidence_min": "inf"}, "confidence_min"),
        ({"risk_min": "0.8", "risk_max": "0.2"}, "risk_min"),
        ({"confidence_min": "0.8", "confidence_max": "0.2"}, "confidence_min"),
        ({"overdue": "yes"}, "overdue"),
        ({"assigned_to": "nobody-here"}, "assigned_to"),
        ({"q": "x" * 201}, "q"),
        ({"cursor": "forged"}, "cursor"),
        ({"cursor": signing.dumps({"s": "priority", "k": [0, "x", "y"]})}, "cursor"),
    ],
)
def test_bad_input_is_400_naming_the_parameter(items, people, params, name):
    response = get(as_user(people.reviewer), **params)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert name in response.json()["errors"]


def test_cursor_of_another_sort_or_edited_is_400(items, people):
    client = as_user(people.reviewer)
    cursor = parse_qs(urlparse(get(client, limit=2).json()["next"]).query)["cursor"][0]
    assert get(client, cursor=cursor, limit=2).status_code == 200
    assert "cursor" in get(client, cursor=cursor, sort="created_at").json()["errors"]
    edited = cursor[:-3] + ("aaa" if not cursor.endswith("aaa") else "bbb")
    assert "cursor" in get(client, cursor=edited).json()["errors"]


def test_every_problem_is_named_at_once(items, people):
    response = get(as_user(people.reviewer), status="x", sort="y", limit="0")
    assert set(response.json()["errors"]) == {"status", "sort", "limit"}


# --- who reads ------------------------------------------------------------------------------


def test_non_member_and_unknown_queue_are_404(items, people):
    assert get(as_user(people.outsider)).status_code == 404
    assert as_user(people.reviewer).get("/api/v1/queues/no-such/items").status_code == 404


@pytest.mark.parametrize("who", ["auditor", "admin", "senior"])
def test_admins_auditors_and_members_read(items, people, who):
    assert len(ids(get(as_user(getattr(people, who))))) == 8


def test_anonymous_is_401(items):
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code == 401


# --- blind items ----------------------------------------------------------------------------

HIDDEN = {"confidence", "risk_score", "rationale"}


@pytest.fixture
def blind(world, items):
    Queue.objects.filter(pk=world.queue.pk).update(stage="shadow", blind_review=True)
    rec = add(world, "blind-1", rationale="SECRET rationale", risk_score=0.95,
              payload={"order_id": "SECRET-7", "amount": 1.0})  # fmt: skip
    assert rec.route == "shadow"
    return rec


def test_blind_items_carry_no_proposal_to_a_reviewer(blind, people):
    response = get(as_user(people.reviewer), route="shadow")
    (body,) = response.json()["results"]
    assert body["blind"] is True and body["action"] == {"type": "refund.issue"}
    assert not HIDDEN & set(body)
    assert "SECRET" not in response.content.decode()


def test_blind_items_show_their_proposal_to_auditors(blind, people):
    (body,) = get(as_user(people.auditor), route="shadow").json()["results"]
    assert body["risk_score"] == 0.95 and body["action"]["payload"]["order_id"] == "SECRET-7"


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"risk_min": "0.9"}, "risk_min"),
        ({"risk_max": "0.9"}, "risk_max"),
        ({"confidence_min": "0.1"}, "confidence_min"),
        ({"confidence_max": "0.1"}, "confidence_max"),
        ({"q": "SECRET"}, "q"),
        ({"sort": "-risk_score"}, "sort"),
        ({"sort": "risk_score", "route": "shadow"}, "sort"),
    ],
)
def test_a_reviewer_may_not_filter_blind_items_by_what_is_hidden(blind, people, params, name):
    response = get(as_user(people.reviewer), **params)
    assert response.status_code == 400
    assert name in response.json()["errors"]
    assert "blind" in response.json()["errors"][name]


def test_hidden_fields_may_be_used_when_the_route_excludes_blind_items(blind, people):
    client = as_user(people.reviewer)
    assert set(ids(get(client, route="review", risk_min="0.6"))) == {"c", "e", "g"}
    assert ids(get(client, route="review", q="blue kettle")) == ["c"]
    assert ids(get(client, q="bl")) == ["blind-1"]  # a short q reads the external id only


def test_auditors_and_admins_filter_blind_items_by_anything(blind, people):
    for user in (people.auditor, people.admin):
        assert "blind-1" in ids(get(as_user(user), risk_min="0.9"))
        assert ids(get(as_user(user), q="SECRET-7")) == ["blind-1"]


def test_without_blind_items_a_reviewer_filters_by_risk(items, people):
    assert set(ids(get(as_user(people.reviewer), risk_min="0.6"))) == {"c", "e", "g"}
