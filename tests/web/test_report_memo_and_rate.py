"""The metrics memo and the report rate (issue 14 #5): new filter values never grow the memo,
and each person's report requests are rate-limited."""

import pytest
from django.test import Client, override_settings

from reviewqueue.models import MetricsBucket
from tests.api.test_review import as_user
from tests.factories import UserFactory, member
from tests.selectors.metrics_world import at, decide

TREND = "/api/v1/metrics/trend"
OCTOBER = {"from": "2026-10-01", "to": "2026-11-01", "queue": "refunds"}


@pytest.fixture
def rita(world, people):
    user = people.reviewer
    decide(
        world,
        decided_at=at("2026-10-02T09:00:00"),
        reviewer=user,
        model={"name": "refund-agent", "version": "v-real"},
    )
    return user


def test_new_version_values_never_grow_the_memo(world, rita):
    client = as_user(rita)
    assert client.get(TREND, OCTOBER).status_code == 200
    remembered = MetricsBucket.objects.count()
    assert remembered > 0  # the real cut is remembered
    for i in range(20):
        for name in ("model_version", "prompt_version", "model_name"):
            response = client.get(TREND, {**OCTOBER, name: f"made-up-{i}"})
            assert response.status_code == 200
    assert MetricsBucket.objects.count() == remembered


def test_walking_back_through_the_calendar_never_grows_the_memo(world, rita):
    client = as_user(rita)
    for year in range(1990, 2020):
        params = {"from": f"{year}-01-01", "to": f"{year}-12-31", "bucket": "week"}
        assert client.get(TREND, params).status_code == 200
    assert MetricsBucket.objects.count() == 0


def test_a_version_that_exists_is_remembered(world, rita):
    client = as_user(rita)
    client.get(TREND, {**OCTOBER, "model_version": "v-real"})
    assert MetricsBucket.objects.exists()


@override_settings(REVIEWQUEUE_REPORT_RATE="3/m")
def test_the_trend_api_is_rate_limited_per_person(world, rita):
    client = as_user(rita)
    statuses = [client.get(TREND, OCTOBER).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get(TREND, OCTOBER)
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    other = UserFactory(username="bob")
    member(other, world.queue)
    assert as_user(other).get(TREND, OCTOBER).status_code == 200  # per person


@override_settings(REVIEWQUEUE_REPORT_RATE="2/m")
def test_the_report_pages_are_rate_limited_per_person(world, rita):
    client = Client()
    client.force_login(rita)
    assert client.get("/reports/").status_code == 200
    assert client.get("/reports/trend.csv").status_code == 200
    response = client.get("/reports/")
    assert response.status_code == 429 and "Retry-After" in response
