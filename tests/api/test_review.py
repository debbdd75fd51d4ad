"""The review API: claim, release, decision, escalate; every 403 and 409."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from reviewqueue.lib.canonical import content_hash
from reviewqueue.models import AuditEvent, Decision, Execution, Recommendation
from reviewqueue.selectors.targets import targets_forget
from reviewqueue.services.audit import Actor
from reviewqueue.services.ingest import recommendation_ingest
from reviewqueue.services.tokens import personal_token_create
from reviewqueue.tasks import leases_sweep
from tests.api.test_ingest import assert_problem
from tests.conftest import item


def as_user(user) -> APIClient:
    _, plain = personal_token_create(user=user, actor=Actor.system("test"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    return client


def add(world, **overrides) -> Recommendation:
    rec, _ = recommendation_ingest(source=world.source, data=item(**overrides))
    return rec


def claim(client, slug="refunds"):
    return client.post(f"/api/v1/queues/{slug}/claim")


def decide(client, rec_id, **body):
    return client.post(
        f"/api/v1/recommendations/{rec_id}/decision",
        data=json.dumps(body),
        content_type="application/json",
    )


class TestClaim:
    def test_claim_takes_highest_priority_then_oldest(self, world, people):
        old = add(world, external_id="old")
        add(world, external_id="newer")
        urgent = add(world, external_id="urgent", priority=5)
        client = as_user(people.reviewer)
        first = claim(client)
        assert first.status_code == 200 and first.json()["id"] == str(urgent.id)
        assert first.json()["status"] == "in_review" and first.json()["lease_expires_at"]
        decide(client, urgent.id, outcome="approve")
        assert claim(client).json()["id"] == str(old.id)

    def test_claim_with_nothing_waiting_is_204(self, world, people):
        response = claim(as_user(people.reviewer))
        assert response.status_code == 204 and response.content == b""

    def test_claiming_again_returns_the_item_you_hold(self, world, people):
        add(world, external_id="a")
        add(world, external_id="b")
        client = as_user(people.reviewer)
        assert claim(client).json()["id"] == claim(client).json()["id"]

    def test_two_reviewers_never_hold_the_same_item(self, world, people):
        only = add(world)
        assert claim(as_user(people.reviewer)).json()["id"] == str(only.id)
        assert claim(as_user(people.senior)).status_code == 204

    def test_claim_writes_an_audit_event(self, world, people):
        rec = add(world)
        claim(as_user(people.reviewer))
        event = AuditEvent.objects.get(recommendation=rec, action="recommendation.claimed")
        assert event.actor_label == "rita"

    def test_non_member_gets_403(self, world, people):
        add(world)
        assert_problem(claim(as_user(people.outsider)), 403)
        assert_problem(claim(as_user(people.auditor)), 403)

    def test_unknown_queue_is_404(self, world, people):
        assert_problem(claim(as_user(people.reviewer), slug="nope"), 404)

    def test_anonymous_and_source_keys_get_401(self, world, people):
        assert_problem(APIClient().post("/api/v1/queues/refunds/claim"), 401)
        assert_problem(claim(world.client()), 401)

    def test_items_past_expires_at_are_not_claimed(self, world, people):
        rec = add(world)
        Recommendation.objects.filter(pk=rec.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert claim(as_user(people.reviewer)).status_code == 204

    def test_session_auth_works_with_csrf(self, world, people, client):
        add(world)
        client.force_login(people.reviewer)
        assert client.post("/api/v1/queues/refunds/claim").status_code == 200
        csrf_client = APIClient(enforce_csrf_checks=True)
        csrf_client.force_login(people.reviewer)
        assert_problem(csrf_client.post("/api/v1/queues/refunds/claim"), 403)


class TestEscalation:
    def test_escalated_items_go_to_seniors_only(self, world, people):
        rec = add(world)
        reviewer = as_user(people.reviewer)
        claim(reviewer)
        response = reviewer.post(
            f"/api/v1/recommendations/{rec.id}/escalate",
            data={"comment": "Large amount"},
            format="json",
        )
        assert response.status_code == 200 and response.json()["status"] == "escalated"
        assert claim(reviewer).status_code == 204
        senior = as_user(people.senior)
        taken = claim(senior).json()
        assert taken["id"] == str(rec.id) and taken["status"] == "in_review"
        assert decide(senior, rec.id, outcome="approve").status_code == 200
        assert (
            AuditEvent.objects.get(action="recommendation.escalated").data["comment"]
            == "Large amount"
        )

    def test_seniors_take_escalated_items_first(self, world, people):
        add(world, external_id="plain", priority=9)
        world.queue.stage = "supervised"
        world.queue.save()
        targets_forget()  # an ORM edit from another process would apply within the cache TTL
        hot = add(world, external_id="hot", risk_score=0.9)
        assert hot.status == "escalated"
        assert claim(as_user(people.senior)).json()["id"] == str(hot.id)

    def test_escalate_needs_your_lease(self, world, people):
        rec = add(world)
        response = as_user(people.reviewer).post(
            f"/api/v1/recommendations/{rec.id}/escalate", format="json"
        )
        body = assert_problem(response, 409)
        assert body["reason"] == "not_claimed"

    def test_released_escalated_item_returns_to_seniors(self, world, people):
        world.queue.stage = "supervised"
        world.queue.save()
        hot = add(world, risk_score=0.9)
        senior = as_user(people.senior)
        claim(senior)
        assert (
            senior.post(f"/api/v1/recommendations/{hot.id}/release").json()["status"] == "escalated"
        )


class TestRelease:
    def test_release_returns_the_item_to_the_queue(self, world, people):
        rec = add(world)
        client = as_user(people.reviewer)
        claim(client)
        response = client.post(f"/api/v1/recommendations/{rec.id}/release")
        assert response.status_code == 200 and response.json()["status"] == "pending"
        assert claim(as_user(people.senior)).json()["id"] == str(rec.id)

    def test_release_of_an_item_you_do_not_hold_is_409(self, world, people):
        rec = add(world)
        claim(as_user(people.senior))
        body = assert_problem(
            as_user(people.reviewer).post(f"/api/v1/recommendations/{rec.id}/release"), 409
        )
        assert body["reason"] == "held_by_other"

    def test_release_by_non_member_is_403(self, world, people):
        rec = add(world)
        assert_problem(
            as_user(people.outsider).post(f"/api/v1/recommendations/{rec.id}/release"), 403
        )


class TestDecision:
    def test_approve_records_the_hash_and_writes_the_execution_row(self, world, people):
        rec = add(world)
        client = as_user(people.reviewer)
        claim(client)
        response = decide(client, rec.id, outcome="approve", comment="Looks right")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "decided" and body["decision"]["outcome"] == "approve"
        assert body["decision"]["reviewer"] == "rita" and body["execution"]["status"] == "pending"
        decision = Decision.objects.get(recommendation=rec)
        assert decision.payload == rec.payload and decision.payload_hash == content_hash(
            rec.payload
        )
        assert Execution.objects.get(recommendation=rec).payload_hash == decision.payload_hash
        event = AuditEvent.objects.get(recommendation=rec, action="recommendation.decided")
        assert event.data["outcome"] == "approve" and event.model_version == "2026-10-01"

    def test_modify_stores_the_field_diff_and_whether_it_is_cosmetic(self, world, people):
        rec = add(world)
        client = as_user(people.reviewer)
        claim(client)
        edited = {"order_id": "A-1", "amount": 35.0}
        body = decide(
            client, rec.id, outcome="modify", payload=edited, reason_code="wrong_amount"
        ).json()
        assert body["decision"]["diff"] == [
            {"path": "amount", "op": "replace", "old": 40.0, "new": 35.0}
        ]
        assert body["decision"]["is_cosmetic"] is False
        assert Execution.objects.get(recommendation=rec).payload == edited

    def test_a_note_only_edit_is_cosmetic(self, world, people):
        rec = add(world)
        client = as_user(people.reviewer)
        claim(client)
        edited = {**rec.payload, "note": "Apologies for the double charge"}
        body = decide(client, rec.id, outcome="modify", payload=edited, reason_code="other").json()
        assert body["decision"]["is_cosmetic"] is True
        assert body["decision"]["diff"][0]["op"] == "add"

    def test_reject_needs_a_reason_from_the_queue_and_executes_nothing(self, world, people):
        rec = add(world)
        client = as_user(people.reviewer)
        claim(client)
        assert assert_problem(decide(client, rec.id, outcome="reject"), 400)["errors"] == {
            "reason_code": "A reason code is required to reject."
        }
        errors = assert_problem(decide(client, rec.id, outcome="reject", reason_code="vibes"), 400)[
            "errors"
        ]
        assert errors["reason_code"].startswith("Must be one of: wrong_amount")
        response = decide(client, rec.id, outcome="reject", reason_code="policy_violation")
        assert response.json()["decision"]["outcome"] == "reject"
        assert not Execution.objects.filter(recommendation=rec).exists()

    @pytest.mark.parametrize(
        ("body", "errors"),
        [
            (
                {"outcome": "modify", "reason_code": "other"},
                {"payload": "Modify needs the edited payload (an object)."},
            ),
            (
                {
                    "outcome": "modify",
                    "reason_code": "other",
                    "payload": {"order_id": "A-1", "amount": 40},
                },
                {"payload": "The edited payload is the same as the original; approve it instead."},
            ),
            (
                {
                    "outcome": "modify",
                    "reason_code": "other",
                    "payload": {"order_id": "A-1", "amount": -3},
                },
                {"payload.amount": "Must be at least 0."},
            ),
            (
                {"outcome": "modify", "payload": {"order_id": "A-1", "amount": 3}},
                {"reason_code": "A reason code is required to modify."},
            ),
            (
                {"outcome": "approve", "payload": {"order_id": "B", "amount": 1}},
                {"payload": "Approve takes the payload as proposed; use modify to change it."},
            ),
            ({"outcome": "maybe"}, {"outcome": 'Must be one of: "approve", "modify", "reject".'}),
            ({"outcome": "approve", "extra": 1}, {"extra": "Unknown field."}),
            ({}, {"outcome": "This field is required."}),
        ],
    )
    def test_bad_decisions_are_400_and_change_nothing(self, world, people, body, errors):
        rec = add(world)
        client = as_user(people.reviewer)
        claim(client)
        response = client.post(
            f"/api/v1/recommendations/{rec.id}/decision",
            data=json.dumps(body),
            content_type="application/json",
        )
        assert assert_problem(response, 400)["errors"] == errors
        rec.refresh_from_db()
        assert rec.status == "in_review" and not Decision.objects.exists()

    def test_deciding_an_unclaimed_item_is_409(self, world, people):
        rec = add(world)
        body = assert_problem(decide(as_user(people.reviewer), rec.id, outcome="approve"), 409)
        assert body["reason"] == "not_claimed"

    def test_deciding_an_item_someone_else_holds_is_409(self, world, people):
        rec = add(world)
        claim(as_user(people.senior))
        assert (
            assert_problem(decide(as_user(people.reviewer), rec.id, outcome="approve"), 409)[
                "reason"
            ]
            == "held_by_other"
        )

    def test_an_item_is_decided_exactly_once(self, world, people):
        rec = add(world)
        client = as_user(people.reviewer)
        claim(client)
        assert decide(client, rec.id, outcome="approve").status_code == 200
        body = assert_problem(decide(client, rec.id, outcome="reject", reason_code="other"), 409)
        assert body["reason"] == "already_decided"
        assert Decision.objects.filter(recommendation=rec).count() == 1

    def test_non_member_gets_403_before_anything_else(self, world, people):
        rec = add(world)
        assert_problem(decide(as_user(people.outsider), rec.id, outcome="approve"), 403)

    def test_unknown_item_is_404(self, world, people):
        assert_problem(decide(as_user(people.reviewer), "nope", outcome="approve"), 404)
        assert_problem(
            decide(
                as_user(people.reviewer),
                "00000000-0000-0000-0000-000000000000",
                outcome="approve",
            ),
            404,
        )


class TestTime:
    def test_an_expired_lease_returns_the_item_and_the_old_holder_gets_409(self, world, people):
        rec = add(world)
        reviewer, senior = as_user(people.reviewer), as_user(people.senior)
        claim(reviewer)
        with time_machine.travel(timezone.now() + timedelta(minutes=9, seconds=50), tick=False):
            assert claim(senior).status_code == 204  # still leased
        with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1), tick=False):
            assert claim(senior).status_code == 204  # the lease ran out; the sweep returns it
            assert leases_sweep() == 1  # beat runs it every 30 s
            assert claim(senior).json()["id"] == str(rec.id)
            body = assert_problem(decide(reviewer, rec.id, outcome="approve"), 409)
            assert body["reason"] == "held_by_other"
            assert decide(senior, rec.id, outcome="approve").status_code == 200
        assert AuditEvent.objects.filter(recommendation=rec, action="lease.expired").count() == 1

    def test_your_own_expired_lease_is_409_until_you_claim_again(self, world, people):
        rec = add(world)
        reviewer = as_user(people.reviewer)
        claim(reviewer)
        with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
            assert (
                assert_problem(decide(reviewer, rec.id, outcome="approve"), 409)["reason"]
                == "lease_expired"
            )
            leases_sweep()
            assert claim(reviewer).json()["id"] == str(rec.id)
            assert decide(reviewer, rec.id, outcome="approve").status_code == 200

    def test_the_lease_sweep_returns_items_without_a_claim(self, world, people):
        rec = add(world)
        claim(as_user(people.reviewer))
        with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
            assert leases_sweep() == 1
        rec.refresh_from_db()
        assert rec.status == "pending" and rec.claimed_by is None

    def test_an_item_past_expires_at_cannot_be_approved_and_closes_as_expired(self, world, people):
        rec = add(world, expires_at=(timezone.now() + timedelta(minutes=5)).isoformat())
        reviewer = as_user(people.reviewer)
        claim(reviewer)
        with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
            body = assert_problem(decide(reviewer, rec.id, outcome="approve"), 409)
        assert body["reason"] == "expired"
        rec.refresh_from_db()
        assert (
            rec.status == "expired"
            and not Decision.objects.exists()
            and not Execution.objects.exists()
        )


class TestRead:
    def test_members_and_auditors_read_items_outsiders_get_404(self, world, people):
        rec = add(world)
        assert as_user(people.reviewer).get(f"/api/v1/recommendations/{rec.id}").status_code == 200
        assert as_user(people.auditor).get(f"/api/v1/recommendations/{rec.id}").status_code == 200
        assert_problem(as_user(people.outsider).get(f"/api/v1/recommendations/{rec.id}"), 404)


@pytest.mark.django_db(transaction=True)
class TestCost:
    """Statements per request, authentication included (BEGIN/COMMIT not counted)."""

    def test_claim_is_three_statements_and_decision_four_whatever_the_queue_size(
        self, world, people
    ):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from reviewqueue.services.ingest import recommendation_ingest_batch
        from tests.api.test_ingest import work

        client = as_user(people.reviewer)
        counts = []
        for size in (1, 3, 2000):  # the first round warms the token's last-used time
            counts = counts[1:] if size == 3 else counts
            recommendation_ingest_batch(
                source=world.source, items=[item(external_id=f"s{size}-{i}") for i in range(size)]
            )
            # Each capture is read at once: the next request's reset_queries clears the log.
            with CaptureQueriesContext(connection) as claimed:
                rec_id = claim(client).json()["id"]
            claim_sql = work(claimed)
            with CaptureQueriesContext(connection) as decided:
                assert decide(client, rec_id, outcome="approve").status_code == 200
            counts.append((claim_sql, work(decided)))
        assert counts[0] == counts[1], counts
        claim_sql, decide_sql = counts[1]
        assert claim_sql == ["SELECT", "SELECT", "WITH"], counts  # token, held item, the claim
        # Token, the item, its move with its audit row, then the decision with its execution
        # (and callback event) in one statement.
        assert decide_sql == ["SELECT", "SELECT", "WITH", "WITH"], counts
