"""Anomaly flags (issue 15 #3), through the ingest API on the real database: what is
flagged, where it goes instead of executing, and where the flag shows."""

import json
import textwrap
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviewqueue.domain.flags import SIGMA
from reviewqueue.exceptions import ConfigError
from reviewqueue.models import (
    AnomalyBaseline,
    AuditEvent,
    Queue,
    RateLimitWindow,
    Recommendation,
)
from reviewqueue.selectors.targets import targets_forget
from reviewqueue.services.anomaly import baselines_refresh
from reviewqueue.services.audit import Actor
from reviewqueue.services.review import recommendation_claim, recommendation_decide
from reviewqueue.services.setup import config_apply
from tests.conftest import item

URL = "/api/v1/recommendations"


def post(client, body, url=URL):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def refund(n: int | str, amount: float, **overrides) -> dict:
    fields = {"confidence": 0.99, "risk_score": 0.05, **overrides}
    return item(
        external_id=f"r-{n}",
        action={"type": "refund.issue", "payload": {"order_id": f"A-{n}", "amount": amount}},
        **fields,
    )


def configure(world, **fields) -> Queue:
    Queue.objects.filter(pk=world.queue.pk).update(**{"stage": "autonomous", **fields})
    targets_forget()  # as a change through apply_config or the admin does
    return Queue.objects.get(pk=world.queue.pk)


def post_batch(world, bodies: list[dict]) -> list[dict]:
    response = post(world.client(), {"items": bodies}, url=f"{URL}/batch")
    assert response.status_code in (200, 201, 207), response.content
    return response.json()["results"]


class TestOutlier:
    def test_after_a_thousand_normal_amounts_only_the_outlier_is_flagged_and_waits(self, world):
        configure(world, anomaly={"fields": ["amount"], "z": 4.0, "window": 1000})
        # 1,000 ordinary refunds, from 80 to 119.5: all execute, none is flagged.
        for start in range(0, 1000, 500):
            results = post_batch(
                world, [refund(n, 80 + (n % 80) / 2) for n in range(start, start + 500)]
            )
            assert {r["route"] for r in results} == {"auto"}
        assert baselines_refresh() == 1
        baseline = AnomalyBaseline.objects.get(queue=world.queue, field="amount")
        assert baseline.count == 1000 and 99 < baseline.mean < 100

        outlier = post(world.client(), refund("big", 9500))
        assert outlier.status_code == 201
        body = outlier.json()
        assert body["route"] == "review" and body["status"] == "pending"
        assert body["execution"] is None and body["decision"] is None
        (flag,) = body["flags"]
        assert flag["kind"] == "outlier"
        assert flag["detail"].startswith("amount 9,500 is ")
        assert f"{SIGMA} above the last 1,000 refund.issue" in flag["detail"]

        normal = post(world.client(), refund("after", 101)).json()
        assert normal["route"] == "auto" and normal["flags"] == []
        small = post(
            world.client(), refund("small", 0.5)
        ).json()  # over 4 standard deviations below
        assert small["route"] == "review" and "below" in small["flags"][0]["detail"]
        assert set(
            Recommendation.objects.exclude(flags=[]).values_list("external_id", flat=True)
        ) == {
            "r-big",
            "r-small",
        }

    def test_no_outlier_without_enough_history_and_none_for_a_missing_or_non_numeric_field(
        self, world
    ):
        world.action_type.payload_schema = {"type": "object"}  # amount may be anything
        world.action_type.save()
        configure(world, anomaly={"fields": ["amount"], "z": 3})
        for n in range(9):
            post(world.client(), refund(n, 100 + n))
        baselines_refresh()
        # Nine values: too little history to judge.
        assert post(world.client(), refund("early", 10_000)).json()["flags"] == []
        for n in range(9, 30):
            post(world.client(), refund(n, 100 + n % 10))
        baselines_refresh()
        missing = item(
            external_id="missing",
            action={"type": "refund.issue", "payload": {"order_id": "x"}},
            confidence=0.99,
            risk_score=0.05,
        )
        text = item(
            external_id="text",
            action={"type": "refund.issue", "payload": {"order_id": "x", "amount": "9500"}},
            confidence=0.99,
            risk_score=0.05,
        )
        for body in (missing, text):
            answer = post(world.client(), body).json()
            assert answer["flags"] == [] and answer["route"] == "auto"
        assert post(world.client(), refund("big", 10_000)).json()["flags"][0]["kind"] == "outlier"

    def test_a_constant_history_flags_any_other_value(self, world):
        configure(world, anomaly={"fields": ["amount"]})
        for n in range(20):
            post(world.client(), refund(n, 50))
        baselines_refresh()
        assert post(world.client(), refund("same", 50)).json()["flags"] == []
        (flag,) = post(world.client(), refund("other", 51)).json()["flags"]
        assert (
            flag["detail"] == "amount 51 differs from the last 20 refund.issue, which were all 50"
        )

    def test_the_refresh_drops_baselines_no_longer_configured(self, world):
        configure(world, anomaly={"fields": ["amount"]})
        post(world.client(), refund(1, 10))
        assert baselines_refresh() == 1
        Queue.objects.filter(pk=world.queue.pk).update(anomaly={})
        assert baselines_refresh() == 0
        assert not AnomalyBaseline.objects.exists()


class TestThresholdsAndVolume:
    def test_high_risk_with_low_confidence_is_escalated_with_both_flags(self, world):
        configure(world, hard_risk_ceiling=0.9, hard_confidence_floor=0.5)
        body = post(world.client(), refund(1, 40, risk_score=0.95, confidence=0.1)).json()
        assert body["route"] == "escalated" and body["status"] == "escalated"
        assert [f["kind"] for f in body["flags"]] == ["risk_ceiling", "confidence_floor"]
        assert body["flags"][1]["detail"] == "confidence 0.10 is below the queue's floor 0.50"

    def test_low_confidence_alone_waits_for_review_in_autonomous_and_supervised(self, world):
        configure(world, hard_confidence_floor=0.5)
        low = post(world.client(), refund(1, 40, confidence=0.3)).json()
        assert low["route"] == "review" and low["flags"][0]["kind"] == "confidence_floor"
        assert post(world.client(), refund(2, 40, confidence=0.6)).json()["route"] == "auto"
        # Supervised: the item would have executed (auto_min_confidence lowered to 0.2).
        configure(world, stage="supervised", auto_min_confidence=0.2)
        low = post(world.client(), refund(3, 40, confidence=0.3)).json()
        assert low["route"] == "review" and low["flags"][0]["kind"] == "confidence_floor"

    def test_no_flags_in_approval_or_shadow_or_while_the_breaker_holds(self, world):
        for stage, tripped in (
            ("approval", None),
            ("shadow", None),
            ("autonomous", timezone.now()),
        ):
            configure(world, stage=stage, hard_confidence_floor=0.5, breaker_tripped_at=tripped)
            body = post(world.client(), refund(f"{stage}-{tripped}", 40, confidence=0.1)).json()
            assert body["flags"] == [] and body["route"] != "auto"

    def test_the_item_over_max_per_5min_and_those_after_it_are_flagged(self, world):
        configure(world, max_per_5min=5)
        routes = [post(world.client(), refund(n, 40)).json() for n in range(5)]
        assert {r["route"] for r in routes} == {"auto"}
        results = post_batch(world, [refund(n, 40) for n in range(5, 8)])
        assert {r["route"] for r in results} == {"review"}
        flagged = Recommendation.objects.get(external_id="r-5")
        assert flagged.flags == [
            {
                "kind": "volume",
                "detail": "source 'refund-bot' sent 6 items to this queue in the last 5 "
                "minutes, more than max_per_5min 5",
            }
        ]
        # Items older than 5 minutes do not count: the counter's steps, moved 5 minutes back.
        RateLimitWindow.objects.filter(key__startswith="volume:").update(
            window_start=F("window_start") - timedelta(minutes=5)
        )
        assert post(world.client(), refund(9, 40)).json()["route"] == "auto"
        # Other sources and other queues have counters of their own.
        assert RateLimitWindow.objects.filter(
            key=f"volume:{world.source.pk}:{world.queue.pk}"
        ).exists()

    def test_a_flagged_item_is_never_qa_sampled_auto_execution(self, world):
        configure(world, hard_confidence_floor=0.5, qa_sample_rate=1.0)
        flagged = post(world.client(), refund(1, 40, confidence=0.2)).json()
        assert flagged["route"] == "review"
        assert Recommendation.objects.get(pk=flagged["id"]).qa_sampled is False
        clean = post(world.client(), refund(2, 40)).json()
        assert clean["route"] == "auto" and Recommendation.objects.get(pk=clean["id"]).qa_sampled


class TestOnTheRecord:
    def test_flags_are_in_the_audit_event_and_the_decision_and_the_trend(self, world, people):
        configure(world, hard_confidence_floor=0.5)
        body = post(world.client(), refund(1, 40, confidence=0.2)).json()
        event = AuditEvent.objects.get(
            recommendation_id=body["id"], action="recommendation.created"
        )
        assert event.data["flags"][0]["kind"] == "confidence_floor"

        reviewer = people.reviewer
        rec = recommendation_claim(queue=world.queue, user=reviewer)
        assert str(rec.pk) == body["id"]
        decided = recommendation_decide(
            recommendation_id=rec.pk, user=reviewer, outcome="reject", reason_code="other"
        )
        assert decided.decision.flagged is True

        client = world.client()
        client.force_authenticate(people.admin)
        trend = client.get("/api/v1/metrics/trend", {"queue": "refunds", "bucket": "day"})
        assert trend.status_code == 200, trend.content
        assert sum(b["flagged"] for b in trend.json()["buckets"]) == 1

    def test_every_item_has_flags_and_the_source_can_list_the_flagged(self, world):
        configure(world, hard_confidence_floor=0.5)
        post(world.client(), refund(1, 40, confidence=0.2))
        post(world.client(), refund(2, 40))
        every = world.client().get(URL).json()["results"]
        assert sorted(len(r["flags"]) for r in every) == [0, 1]
        only = world.client().get(URL, {"flagged": "true"}).json()["results"]
        assert [r["external_id"] for r in only] == ["r-1"]
        none = world.client().get(URL, {"flagged": "false"}).json()["results"]
        assert [r["external_id"] for r in none] == ["r-2"]
        bad = world.client().get(URL, {"flagged": "yes"})
        assert bad.status_code == 400 and bad.json()["errors"] == {
            "flagged": "Must be true or false."
        }
        assert world.client().get(f"{URL}/{every[0]['id']}").json()["flags"] == every[0]["flags"]


@pytest.mark.django_db(transaction=True)  # no test transaction around it: as in production
def test_flags_cost_one_counter_statement_per_ingest_and_nothing_when_unset(world):
    def statements(n: int) -> list[str]:
        post(world.client(), refund(f"warm-{n}", 40))  # the key and targets lookups, once
        with CaptureQueriesContext(connection) as captured:
            post(world.client(), refund(n, 40))
        return [q["sql"] for q in captured]

    configure(world)
    plain = statements(1)
    configure(world, anomaly={"fields": ["amount"]}, max_per_5min=100, hard_confidence_floor=0.1)
    flagged = statements(2)
    # The volume counter: one upsert, before the transaction. The baselines come with the
    # routing state, in the statement that reads it anyway.
    assert len([q for q in flagged if "volume:" in q]) == 1
    (routing,) = [q for q in flagged if "FOR SHARE" in q]
    assert "anomalybaseline" in routing
    assert len(flagged) == len(plain) + 1, flagged


CONFIG = textwrap.dedent(
    """
    [[action_types]]
    name = "refund.issue"
    payload_schema = {{ type = "object", properties = {{ order_id = {{ type = "string" }}, amount = {{ type = "number" }} }} }}

    [[queues]]
    slug = "refunds"
    name = "Refunds"
    action_types = ["refund.issue"]
    {extra}
    """
)


def config_problems(extra: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_apply(text=CONFIG.format(extra=extra), actor=Actor.system("test"))
    return info.value.problems


@pytest.mark.django_db
class TestConfiguration:
    def test_a_valid_table_is_stored(self):
        config_apply(
            text=CONFIG.format(
                extra="routing = { hard_risk_ceiling = 0.9, hard_confidence_floor = 0.5 }\n"
                'anomaly = { fields = ["amount"], z = 4.0, window = 1000 }\nmax_per_5min = 500'
            ),
            actor=Actor.system("test"),
        )
        queue = Queue.objects.get(slug="refunds")
        assert queue.hard_confidence_floor == 0.5 and queue.max_per_5min == 500
        assert queue.anomaly == {"fields": ["amount"], "z": 4.0, "window": 1000}

    @pytest.mark.parametrize(
        ("extra", "problem"),
        [
            (
                "routing = { hard_confidence_floor = 1.5 }",
                "queues[0].routing.hard_confidence_floor: must be a number from 0 to 1, got 1.5",
            ),
            ("max_per_5min = 0", "queues[0].max_per_5min: must be a positive integer, got 0"),
            (
                'anomaly = { fields = ["amount"], z = 0 }',
                "queues[0].anomaly.z: must be a number above 0 and at most 100, got 0",
            ),
            (
                'anomaly = { fields = ["amount"], z = -2.5 }',
                "queues[0].anomaly.z: must be a number above 0 and at most 100, got -2.5",
            ),
            (
                'anomaly = { fields = ["amount"], window = 9 }',
                "queues[0].anomaly.window: must be a whole number of items from 10 to 100000, got 9",
            ),
            (
                'anomaly = { fields = ["amonut"] }',
                "queues[0].anomaly.fields: 'amonut' is not a numeric property of any of this "
                "queue's action types' payload_schema (numeric properties: amount)",
            ),
            (
                'anomaly = { fields = ["order_id"] }',
                "queues[0].anomaly.fields: 'order_id' is not a numeric property of any of this "
                "queue's action types' payload_schema (numeric properties: amount)",
            ),
            ("anomaly = { z = 3 }", "queues[0].anomaly.fields: is required"),
            (
                'anomaly = { fields = ["amount"], sigma = 3 }',
                "queues[0].anomaly.sigma: unknown key (expected one of fields, window, z)",
            ),
        ],
    )
    def test_bad_settings_are_refused_with_their_key_path(self, extra, problem):
        assert problem in config_problems(extra)
        assert not Queue.objects.filter(slug="refunds").exists()
