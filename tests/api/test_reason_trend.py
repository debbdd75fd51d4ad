"""Reason trends (issue 18 #3): GET /api/v1/metrics/reasons, the stacked chart on /reports/
and reason_trend.csv, against a hand count."""

import csv
import io

from django.test import Client
from django.utils import timezone

from reviewqueue.reporting.reason_trend import reason_points
from reviewqueue.reporting.scope import TrendFilters
from tests.api.test_ingest import assert_problem
from tests.api.test_reports import OCTOBER, october  # noqa: F401 - the fixture
from tests.api.test_review import as_user
from tests.selectors.metrics_world import at, decide

REASONS = "/api/v1/metrics/reasons"


def test_counts_each_code_per_bucket_by_hand(world, people, october):  # noqa: F811
    # One more modify with wrong_amount on Oct 2 and one without a code on Oct 3.
    decide(
        world,
        decided_at=at("2026-10-02T12:00:00"),
        reviewer=people.senior,
        outcome="modify",
        reason_code="wrong_amount",
        diff=[],
        is_cosmetic=True,
    )
    decide(world, decided_at=at("2026-10-03T09:00:00"), reviewer=people.senior, outcome="reject")
    response = as_user(people.admin).get(REASONS, {**OCTOBER, "queue": "refunds"})
    assert response.status_code == 200, response.content
    buckets = response.json()["buckets"]
    assert len(buckets) == 31
    assert buckets[0] == {"start": "2026-10-01T00:00:00Z", "reasons": {}}  # approvals only
    assert buckets[1]["reasons"] == {"wrong_amount": 2, "policy_violation": 1}
    assert list(buckets[1]["reasons"]) == ["wrong_amount", "policy_violation"]  # most first
    assert buckets[2]["reasons"] == {"(none)": 1}
    weekly = as_user(people.admin).get(REASONS, {**OCTOBER, "queue": "refunds", "bucket": "week"})
    assert weekly.json()["buckets"][0]["reasons"] == {
        "wrong_amount": 2,
        "(none)": 1,
        "policy_violation": 1,
    }


def test_a_reviewer_sees_only_their_own_reasons(world, people, october):  # noqa: F811
    buckets = as_user(people.reviewer).get(REASONS, OCTOBER).json()["buckets"]
    assert buckets[1]["reasons"] == {"wrong_amount": 1}  # Sam's rejection is not theirs
    other = as_user(people.reviewer).get(REASONS, {**OCTOBER, "reviewer": "sam"})
    assert other.status_code == 403


def test_bad_parameters_name_the_parameter(world, people):
    client = as_user(people.admin)
    assert "bucket" in assert_problem(client.get(REASONS, {"bucket": "hour"}), 400)["errors"]
    backwards = client.get(REASONS, {"from": "2026-10-05", "to": "2026-10-01"})
    assert assert_problem(backwards, 400)["errors"]
    assert client.get(REASONS).status_code == 200  # the last 30 days
    assert Client().get(REASONS).status_code in (401, 403)


def test_closed_buckets_are_remembered_and_the_open_one_counted(world, people, october):  # noqa: F811
    filters = TrendFilters(queue_ids=(world.queue.pk,))
    from reviewqueue.reporting.buckets import buckets_for
    from reviewqueue.reporting.parameters import parse_trend_request

    buckets = buckets_for(parse_trend_request({**OCTOBER}))
    now = timezone.now()
    first = reason_points(filters=filters, buckets=buckets, now=now)
    # A decision written behind the application's back into a closed bucket is not seen
    # (remembered), which is how the memo is known to answer.
    decide(
        world,
        decided_at=at("2026-10-02T13:00:00"),
        reviewer=people.senior,
        outcome="reject",
        reason_code="late",
    )
    again = reason_points(filters=filters, buckets=buckets, now=now)
    assert again[1].reasons == first[1].reasons


def test_the_reports_page_draws_the_stacked_chart_and_its_csv(world, people, october):  # noqa: F811
    web = Client()
    web.force_login(people.admin)
    html = web.get("/reports/", {**OCTOBER, "queue": "refunds"}).content.decode()
    chart = html.split('data-chart="reason-trend"', 1)[1].split("</svg>", 1)[0]
    assert "2026-10-02: wrong_amount 1" in chart and "2026-10-02: policy_violation 1" in chart
    assert 'data-legend="reason-trend"' in html
    rows = list(csv.reader(io.StringIO(web.get("/reports/reason_trend.csv", OCTOBER).text)))
    assert rows[0] == ["start", "policy_violation", "wrong_amount"]
    assert rows[2] == ["2026-10-02T00:00:00Z", "1", "1"]
    assert len(rows) == 32
