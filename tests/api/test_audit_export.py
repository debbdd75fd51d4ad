"""GET /api/v1/exports/audit.jsonl and `manage.py export_audit`: the audit trail for a time
range, each line verifiable on its own, for admins and auditors only."""

import json

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from rest_framework.test import APIClient

from reviewqueue.lib.audit_chain import GENESIS, line_hash
from reviewqueue.services.ingest import recommendation_ingest
from tests.api.test_ingest import assert_problem
from tests.api.test_review import as_user
from tests.conftest import item

EXPORT = "/api/v1/exports/audit.jsonl"
FIRST = {"from": "2026-10-01", "to": "2026-10-02"}


@pytest.fixture
def events(world, people):
    """Refunds: two items on Oct 1 (one with awkward data), one on Oct 2; other: one on Oct 1."""
    with time_machine.travel("2026-10-01T09:00:00Z", tick=False):
        recommendation_ingest(source=world.source, data=item(external_id="a"))
    with time_machine.travel("2026-10-01T23:59:59.999999Z", tick=False):
        recommendation_ingest(
            source=world.source,
            data=item(external_id="b|2:x", confidence=1e-05, rationale='naïve "quote" \n ☃'),
        )
        recommendation_ingest(source=world.other_source, data=item(queue="other"))
    with time_machine.travel("2026-10-02T00:00:00Z", tick=False):
        recommendation_ingest(source=world.source, data=item(external_id="c"))


def lines(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


def test_streams_the_range_chain_by_chain_and_every_line_verifies(world, people, events):
    response = as_user(people.auditor).get(EXPORT, FIRST)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response.streaming
    rows = lines(response)
    assert [(r["queue"], r["seq"], r["data"]["external_id"]) for r in rows] == [
        ("refunds", 1, "a"),
        ("refunds", 2, "b|2:x"),
        ("other", 1, "ticket-8812:refund"),
    ]
    for row in rows:
        assert line_hash(row) == row["hash"]  # from the line alone
        assert json.loads(row["data_text"]) == row["data"]
    first, second, other = rows
    assert first["prev_hash"] == GENESIS and second["prev_hash"] == first["hash"]
    assert first["occurred_at"] == "2026-10-01T09:00:00.000000Z"
    assert second["occurred_at"] == "2026-10-01T23:59:59.999999Z"
    assert second["data"]["confidence"] == 1e-05 and "0.00001" in second["data_text"]
    assert first["action"] == "recommendation.created" and first["actor_label"] == "refund-bot"
    assert first["queue_id"] == str(world.queue.pk) and first["chain"] == world.queue.pk
    assert other["chain"] == world.other_queue.pk


def test_filters_by_queue_and_to_is_exclusive(world, people, events):
    client = as_user(people.admin)
    refunds = lines(client.get(EXPORT, {**FIRST, "queue": "refunds"}))
    assert [r["seq"] for r in refunds] == [1, 2] and {r["queue"] for r in refunds} == {"refunds"}
    both_days = lines(client.get(EXPORT, {"from": "2026-10-01", "to": "2026-10-03"}))
    assert len(both_days) == 4
    second_day = lines(client.get(EXPORT, {"from": "2026-10-02", "to": "2026-10-03"}))
    assert [(r["queue"], r["seq"]) for r in second_day] == [("refunds", 3)]
    assert second_day[0]["prev_hash"] == refunds[-1]["hash"]  # links across the range's edge


def test_time_zone_moves_the_day(world, people, events):
    # Oct 2 in Amsterdam (UTC+2) starts at Oct 1 22:00 UTC.
    rows = lines(
        as_user(people.admin).get(
            EXPORT, {"from": "2026-10-02", "to": "2026-10-03", "tz": "Europe/Amsterdam"}
        )
    )
    assert [(r["queue"], r["seq"]) for r in rows] == [("refunds", 2), ("refunds", 3), ("other", 1)]


def test_reviewer_is_403_anonymous_and_source_keys_401(world, people, events):
    assert_problem(as_user(people.reviewer).get(EXPORT, FIRST), 403)
    assert_problem(APIClient().get(EXPORT, FIRST), 401)
    assert_problem(world.client().get(EXPORT, FIRST), 401)


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"from": "2026-10-32"}, {"from"}),
        ({"from": "2026-10-02", "to": "2026-10-01"}, {"to"}),
        ({"queue": "nope", "tz": "Nowhere/Special"}, {"queue", "tz"}),
    ],
)
def test_bad_parameters_are_400_naming_each(world, people, params, fields):
    body = assert_problem(as_user(people.auditor).get(EXPORT, params), 400)
    assert set(body["errors"]) == fields


def test_is_documented_in_the_openapi_schema(world, client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    export = schema["paths"]["/api/v1/exports/audit.jsonl"]["get"]
    assert "application/x-ndjson" in export["responses"]["200"]["content"]
    assert {"queue", "from", "to", "tz"} <= {p["name"] for p in export["parameters"]}


def test_command_writes_the_same_lines(world, people, events, tmp_path):
    target = tmp_path / "audit.jsonl"
    call_command("export_audit", "--from", "2026-10-01", "--to", "2026-10-02", "--output", target)
    api = b"".join(as_user(people.admin).get(EXPORT, FIRST).streaming_content)
    assert target.read_bytes() == api and api.count(b"\n") == 3
    with pytest.raises(CommandError, match="--to: Must be after"):
        call_command("export_audit", "--from", "2026-10-02", "--to", "2026-10-01")
