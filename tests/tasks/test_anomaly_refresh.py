"""The anomaly baselines are refreshed by a real Celery worker running the beat task, and the
next ingest compares with them (issue 15 #3)."""

import json

import pytest

from config.celery import app as celery_app
from reviewqueue.models import AnomalyBaseline, Queue
from reviewqueue.tasks import anomaly_baselines_refresh
from tests.conftest import item
from tests.tasks.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)  # the worker must see the rows


def test_beat_schedules_the_refresh_every_ten_seconds():
    (entry,) = [
        e
        for e in celery_app.conf.beat_schedule.values()
        if e["task"] == anomaly_baselines_refresh.name
    ]
    assert entry["schedule"] == 10.0


def test_a_worker_refreshes_the_baselines_and_the_next_outlier_is_flagged(world, start_worker):
    Queue.objects.filter(pk=world.queue.pk).update(
        stage="autonomous", anomaly={"fields": ["amount"], "z": 4}
    )
    client = world.client()
    bodies = [
        item(
            external_id=f"n-{n}",
            action={"type": "refund.issue", "payload": {"order_id": "A", "amount": 100 + n % 7}},
            confidence=0.99,
            risk_score=0.05,
        )
        for n in range(50)
    ]
    response = client.post(
        "/api/v1/recommendations/batch",
        data=json.dumps({"items": bodies}),
        content_type="application/json",
    )
    assert {r["status"] for r in response.json()["results"]} == {201}, response.content
    start_worker()
    anomaly_baselines_refresh.delay()
    baseline = wait_until(
        lambda: AnomalyBaseline.objects.filter(queue=world.queue, field="amount").first(),
        "the worker to write the amount baseline",
    )
    assert baseline.count == 50 and 102 < baseline.mean < 104
    outlier = item(
        external_id="big",
        action={"type": "refund.issue", "payload": {"order_id": "A", "amount": 5000}},
        confidence=0.99,
        risk_score=0.05,
    )
    body = client.post(
        "/api/v1/recommendations", data=json.dumps(outlier), content_type="application/json"
    ).json()
    assert body["route"] == "review" and body["flags"][0]["kind"] == "outlier"
