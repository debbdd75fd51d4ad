"""The reports API: GET /api/v1/metrics/trend and GET /api/v1/exports/decisions.jsonl, with
every persona (admin, auditor, reviewer, senior, outsider, anonymous, a source's key)."""

import json
import types

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from reviewqueue.reporting import export
from reviewqueue.reporting.export import ExportRequest, export_lines
from reviewqueue.selectors import exports
from tests.api.test_ingest import assert_problem
from tests.api.test_review import as_user
from tests.selectors.metrics_world import at, decide

TREND = "/api/v1/metrics/trend"
EXPORT = "/api/v1/exports/decisions.jsonl"
OCTOBER = {"from": "2026-10-01", "to": "2026-11-01"}


@pytest.fixture
def october(world, people):
    """Rita approves twice and modifies once, Sam rejects once, all in refunds; a decision in
    the other queue; a policy approval."""
    decide(world, decided_at=at("2026-10-01T09:00:00"), reviewer=people.reviewer, seconds=100)
    decide(world, decided_at=at("2026-10-01T10:00:00"), reviewer=people.reviewer, seconds=300)
    decide(
        world,
        decided_at=at("2026-10-02T10:00:00"),
        reviewer=people.reviewer,
        outcome="modify",
        reason_code="wrong_amount",
        diff=[{"path": "amount", "op": "replace", "old": 40.0, "new": 35.0}],
        is_cosmetic=False,
        payload={"order_id": "A-1", "amount": 35.0},
    )
    decide(
        world,
        decided_at=at("2026-10-02T11:00:00"),
        reviewer=people.senior,
        outcome="reject",
        reason_code="policy_violation",
    )
    decide(world, decided_at=at("2026-10-03T11:00:00"), queue=world.other_queue)
    decide(world, decided_at=at("2026-10-03T12:00:00"), kind="policy", review_seconds=None)


def get(client, url=TREND, **params):
    return client.get(url, params)


# --- Trend ----------------------------------------------------------------------------------------


class TestTrend:
    def test_answers_the_specified_shape(self, world, people, october):
        response = get(as_user(people.admin), queue="refunds", bucket="day", **OCTOBER)
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        body = response.json()
        assert list(body) == ["buckets"] and len(body["buckets"]) == 31
        first, second, third = body["buckets"][:3]
        assert first == {
            "start": "2026-10-01T00:00:00Z",
            "decisions": 2,
            "approved": 2,
            "modified": 0,
            "rejected": 0,
            "approval_rate": 1.0,
            "modification_rate": 0.0,
            "rejection_rate": 0.0,
            "acceptance_rate": 1.0,
            "median_seconds_to_decision": 200.0,
            "p90_seconds_to_decision": 280.0,
            "median_review_seconds": 30.0,
            "flagged": 0,
        }
        assert (second["decisions"], second["modified"], second["rejected"]) == (2, 1, 1)
        assert (second["approval_rate"], second["modification_rate"]) == (0.0, 0.5)
        assert third["decisions"] == 0 and third["approval_rate"] is None

    def test_month_bucket_is_october(self, world, people, october):
        body = get(as_user(people.auditor), bucket="month", **OCTOBER).json()
        assert [(b["start"], b["decisions"]) for b in body["buckets"]] == [
            ("2026-10-01T00:00:00Z", 5)
        ]

    def test_time_zone_parameter(self, world, people, october):
        body = get(as_user(people.admin), tz="Europe/Amsterdam", **OCTOBER).json()
        assert body["buckets"][0]["start"] == "2026-09-30T22:00:00Z"
        assert body["buckets"][-1]["start"] == "2026-10-30T23:00:00Z"  # after the DST change

    def test_anonymous_is_401(self, world):
        assert_problem(APIClient().get(TREND), 401)

    def test_a_source_key_is_not_a_person(self, world):
        assert_problem(world.client().get(TREND), 401)

    def test_session_sign_in_works(self, world, people, october, client):
        client.force_login(people.auditor)
        assert client.get(TREND, OCTOBER).status_code == 200

    def test_reviewer_sees_own_numbers_only(self, world, people, october):
        body = get(as_user(people.reviewer), bucket="month", **OCTOBER).json()
        (month,) = body["buckets"]
        assert (month["decisions"], month["approved"], month["modified"]) == (3, 2, 1)
        body = get(as_user(people.senior), bucket="month", **OCTOBER).json()
        assert body["buckets"][0]["rejected"] == 1 and body["buckets"][0]["decisions"] == 1
        ok = get(as_user(people.reviewer), reviewer="rita", queue="refunds", **OCTOBER)
        assert ok.status_code == 200

    def test_reviewer_asking_for_someone_else_is_403(self, world, people, october):
        assert_problem(get(as_user(people.reviewer), reviewer="sam", **OCTOBER), 403)

    def test_outsider_asking_for_a_queue_they_are_not_in_is_404_as_for_no_queue(
        self, world, people, october
    ):
        """Issue 14 #17: the same answer as for a queue that does not exist."""
        client = as_user(people.outsider)
        not_in = assert_problem(get(client, queue="refunds", **OCTOBER), 404)
        missing = assert_problem(get(client, queue="no-such-queue", **OCTOBER), 404)
        assert not_in["detail"].replace("refunds", "X") == missing["detail"].replace(
            "no-such-queue", "X"
        )
        body = get(as_user(people.outsider), bucket="month", **OCTOBER).json()
        assert body["buckets"][0]["decisions"] == 0  # their own: none

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"from": "2026-10-32", "to": "2026-11-01"}, "from"),
            ({"from": "2026-11-01", "to": "2026-10-01"}, "to"),
            ({"bucket": "fortnight"}, "bucket"),
            ({"tz": "Nowhere/Special"}, "tz"),
            ({"from": "2020-01-01", "to": "2026-01-01"}, "to"),
            ({"queue": "nope"}, "queue"),
            ({"action_type": "nope"}, "action_type"),
            ({"source": "nope"}, "source"),
            ({"reviewer": "nope"}, "reviewer"),
        ],
    )
    def test_bad_parameters_are_400_naming_the_parameter(self, world, people, params, field):
        body = assert_problem(get(as_user(people.admin), **params), 400)
        assert field in body["errors"]

    def test_every_problem_at_once(self, world, people):
        body = assert_problem(get(as_user(people.admin), bucket="x", tz="y", **{"from": "z"}), 400)
        assert set(body["errors"]) == {"bucket", "tz", "from"}

    def test_is_documented_in_the_openapi_schema(self, world, client):
        schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
        trend = schema["paths"]["/api/v1/metrics/trend"]["get"]
        assert "`to` exclusive" in trend["description"]
        names = {p["name"] for p in trend["parameters"]}
        assert {"queue", "bucket", "from", "to", "tz", "reviewer", "model_version"} <= names
        export = schema["paths"]["/api/v1/exports/decisions.jsonl"]["get"]
        assert "application/x-ndjson" in export["responses"]["200"]["content"]


# --- Export ------------------------------------------------------------------------------------------


def lines(response):
    assert isinstance(response, StreamingHttpResponse)
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


class TestExport:
    def test_streams_one_json_line_per_decision(self, world, people, october):
        response = get(as_user(people.auditor), EXPORT, queue="refunds", **OCTOBER)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/x-ndjson"
        assert response.streaming
        rows = lines(response)
        assert [r["outcome"] for r in rows] == ["approve", "approve", "modify", "reject", "approve"]
        assert [r["kind"] for r in rows][-1] == "policy"
        modify = rows[2]
        assert modify["input"] == {
            "rationale": "Customer was charged twice for order A-1.",
            "evidence": [
                {"title": "Order A-1", "url": "https://crm.example/orders/A-1", "snippet": "..."}
            ],
            "metadata": {"customer_tier": "gold"},
            "confidence": 0.91,
            "risk_score": 0.42,
        }
        assert modify["proposal"] == {
            "type": "refund.issue",
            "payload": {"order_id": "A-1", "amount": 40.0},
        }
        assert modify["final_payload"] == {"order_id": "A-1", "amount": 35.0}
        assert modify["reason_code"] == "wrong_amount" and modify["is_cosmetic"] is False
        assert modify["diff"] == [{"path": "amount", "op": "replace", "old": 40.0, "new": 35.0}]
        assert modify["model"] == {"name": "refund-agent", "version": "2026-10-01"}
        assert modify["prompt_version"] == "refund-v7" and modify["reviewer"] == "rita"
        assert modify["decided_at"] == "2026-10-02T10:00:00Z"
        assert modify["created_at"] == "2026-10-02T09:59:00Z"
        assert modify["queue"] == "refunds" and modify["source"] == "refund-bot"
        assert modify["id"] and modify["recommendation_id"] and modify["external_id"]
        assert rows[3]["final_payload"] is None

    def test_filters_by_queue_range_and_kind(self, world, people, october):
        client = as_user(people.admin)
        assert len(lines(get(client, EXPORT, **OCTOBER))) == 6
        assert len(lines(get(client, EXPORT, queue="other", **OCTOBER))) == 1
        assert len(lines(get(client, EXPORT, kind="human", **OCTOBER))) == 5
        assert len(lines(get(client, EXPORT, **{"from": "2026-10-02", "to": "2026-10-03"}))) == 2

    def test_accepts_asking_for_ndjson(self, world, people, october):
        response = as_user(people.admin).get(EXPORT, OCTOBER, HTTP_ACCEPT="application/x-ndjson")
        assert response.status_code == 200 and len(lines(response)) == 6

    @pytest.mark.parametrize("persona", ["reviewer", "senior", "outsider"])
    def test_people_who_may_not_read_reports_get_403(self, world, people, persona):
        assert_problem(get(as_user(getattr(people, persona)), EXPORT), 403)

    def test_anonymous_is_401(self, world):
        assert_problem(APIClient().get(EXPORT), 401)

    def test_bad_parameters_are_400(self, world, people):
        body = assert_problem(
            get(as_user(people.admin), EXPORT, kind="robot", queue="nope", **{"from": "x"}), 400
        )
        assert set(body["errors"]) == {"kind", "queue", "from"}

    def test_lines_are_produced_lazily_in_chunks(self, world, people, october, monkeypatch):
        monkeypatch.setattr(export, "CHUNK", 2)
        monkeypatch.setattr(exports, "SEND_BYTES", 1)  # a piece per line
        chunk_sizes = []
        real_iterator = export.QuerySet.iterator

        def spy(self, chunk_size=None):
            chunk_sizes.append(chunk_size)
            return real_iterator(self, chunk_size=chunk_size)

        monkeypatch.setattr(export.QuerySet, "iterator", spy)
        request = ExportRequest(
            queue_ids=(world.queue.pk, world.other_queue.pk),
            lo=at("2026-10-01T00:00:00"),
            hi=at("2026-11-01T00:00:00"),
            kind=None,
        )
        with CaptureQueriesContext(connection) as captured:
            stream = export_lines(request)
            assert isinstance(stream, types.GeneratorType)
            assert len(captured) == 0  # nothing read before the first line is asked for
            first = next(stream)
        assert json.loads(first)["decided_at"] == "2026-10-01T09:00:00Z"
        assert chunk_sizes == [2]
        assert len(list(stream)) == 5
