"""Races are settled by the database: concurrent posts of one external_id create one row."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from reviewqueue.models import AuditEvent, Recommendation
from tests.conftest import item

pytestmark = pytest.mark.django_db(transaction=True)


def _race(key: str, bodies: list[dict], url: str = "/api/v1/recommendations") -> list:
    barrier = threading.Barrier(len(bodies))

    def post(body):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        barrier.wait()
        try:
            return client.post(url, data=json.dumps(body), content_type="application/json")
        finally:
            connection.close()

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_sixteen_concurrent_posts_of_one_external_id_create_one_row(world):
    responses = _race(world.key, [item() for _ in range(16)])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 15 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Recommendation.objects.count() == 1
    assert AuditEvent.objects.filter(action="recommendation.created").count() == 1


def test_concurrent_conflicting_posts_give_one_201_and_409s(world):
    responses = _race(world.key, [item(confidence=0.1 + i / 100) for i in range(8)])
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert Recommendation.objects.count() == 1


def test_concurrent_overlapping_batches_create_each_item_once(world):
    batches = [{"items": [item(external_id=f"shared-{j}") for j in range(50)]} for _ in range(6)]
    responses = _race(world.key, batches, url="/api/v1/recommendations/batch")
    statuses = [r["status"] for resp in responses for r in resp.json()["results"]]
    assert statuses.count(201) == 50 and statuses.count(200) == 250
    assert Recommendation.objects.count() == 50
