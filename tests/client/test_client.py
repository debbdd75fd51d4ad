"""reviewqueue_client against the live app: every call and every error type."""

import threading
import time

import httpx
import pytest
from reviewqueue_client import (
    AuthenticationError,
    BatchItemResult,
    Conflict,
    DecisionTimeout,
    NewRecommendation,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    Recommendation,
    ReviewQueueClient,
    ReviewQueueError,
    ServerError,
    ValidationError,
)

from reviewqueue.models import Recommendation as RecommendationRow
from tests.conftest import item

pytestmark = pytest.mark.django_db(transaction=True)


def submit(rq: ReviewQueueClient, external_id: str = "ticket-8812:refund", **overrides):
    return rq.submit_item(item(external_id=external_id, **overrides))


class TestSubmit:
    def test_submit_creates_and_returns_the_typed_item(self, rq):
        rec = rq.submit(
            "refunds",
            "ticket-1:refund",
            "refund.issue",
            {"order_id": "A-1", "amount": 40.0},
            confidence=0.91,
            risk_score=0.42,
            model=("refund-agent", "2026-10-01"),
            rationale="Charged twice.",
            evidence=[{"title": "Order A-1", "url": "https://crm.example/orders/A-1"}],
            prompt_version="refund-v7",
            priority=3,
            expires_at="2036-11-23T12:00:00Z",
            metadata={"customer_tier": "gold"},
        )
        assert isinstance(rec, Recommendation) and rec.created is True
        assert rec.status == "pending" and rec.route == "review" and rec.is_open
        assert rec.action_type == "refund.issue" and rec.payload == {
            "order_id": "A-1",
            "amount": 40.0,
        }
        assert rec.model is not None and rec.model.name == "refund-agent"
        assert rec.priority == 3 and rec.metadata == {"customer_tier": "gold"}
        assert rec.expires_at is not None and rec.expires_at.year == 2036
        assert rec.created_at is not None and rec.decision is None and rec.execution is None
        assert RecommendationRow.objects.filter(pk=rec.id).exists()

    def test_replay_answers_the_original_with_created_false(self, rq):
        first = submit(rq)
        again = submit(rq)
        assert first.created and not again.created and again.id == first.id
        assert RecommendationRow.objects.count() == 1

    def test_same_external_id_with_other_content_is_conflict(self, rq):
        submit(rq)
        with pytest.raises(Conflict) as caught:
            submit(rq, confidence=0.5)
        error = caught.value
        assert error.status == 409 and error.type and error.type.startswith("urn:")
        assert error.title and error.detail and error.problem["status"] == 409
        assert isinstance(error, ReviewQueueError)

    def test_invalid_item_is_validation_error_with_field_paths(self, rq):
        with pytest.raises(ValidationError) as caught:
            submit(rq, confidence=2)
        error = caught.value
        assert error.status == 400 and "confidence" in error.errors
        assert "confidence" in str(error)
        bad_payload = {"type": "refund.issue", "payload": {"order_id": "A-1", "amount": -1}}
        with pytest.raises(ValidationError) as caught:
            submit(rq, action=bad_payload)
        assert "action.payload.amount" in caught.value.errors
        assert RecommendationRow.objects.count() == 0

    def test_bad_key_is_authentication_error(self, live):
        with live.client(key="rqk_nope") as rq, pytest.raises(AuthenticationError) as caught:
            rq.get("0190a000-0000-7000-8000-000000000000")
        assert caught.value.status == 401

    def test_queue_not_allowed_for_the_key_is_permission_denied(self, rq):
        with pytest.raises(PermissionDenied) as caught:
            submit(rq, queue="other")
        assert caught.value.status == 403

    def test_body_over_the_limit_is_payload_too_large(self, rq, settings):
        settings.REVIEWQUEUE_MAX_BODY_BYTES = 2048
        with pytest.raises(PayloadTooLarge) as caught:
            submit(rq, rationale="x" * 4000)
        assert caught.value.status == 413

    def test_over_the_rate_is_rate_limited_with_retry_after(self, live, settings):
        settings.REVIEWQUEUE_INGEST_RATE = "1/m"
        with live.client(max_retries=0) as rq:
            submit(rq, external_id="a")
            with pytest.raises(RateLimited) as caught:
                submit(rq, external_id="b")
        assert caught.value.status == 429
        assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60

    def test_a_retry_after_longer_than_the_client_accepts_is_raised_at_once(self, live, settings):
        settings.REVIEWQUEUE_INGEST_RATE = "1/h"
        with live.client(max_retries=3, max_retry_after=1.0) as rq:
            submit(rq, external_id="a")
            started = time.monotonic()
            with pytest.raises(RateLimited):
                submit(rq, external_id="b")
        assert time.monotonic() - started < 1.0


class TestBatch:
    def test_batch_returns_per_item_results(self, rq):
        submit(rq, external_id="already")
        results = rq.submit_batch(
            [
                NewRecommendation(
                    queue="refunds",
                    external_id="new",
                    action_type="refund.issue",
                    payload={"order_id": "A-2", "amount": 5},
                    confidence=0.9,
                    risk_score=0.1,
                    model={"name": "refund-agent", "version": "1"},
                ),
                item(external_id="already"),
                item(external_id="bad", confidence=7),
                item(external_id="forbidden", queue="other"),
                item(external_id="already", confidence=0.1),
            ]
        )
        assert [r.status for r in results] == [201, 200, 400, 403, 409]
        assert all(isinstance(r, BatchItemResult) for r in results)
        assert results[0].ok and results[0].created and results[0].id and results[0].error is None
        assert results[1].ok and not results[1].created
        assert isinstance(results[2].error, ValidationError) and "confidence" in results[2].errors
        assert isinstance(results[3].error, PermissionDenied)
        assert isinstance(results[4].error, Conflict)
        assert RecommendationRow.objects.count() == 2


class TestRead:
    def test_get_returns_the_item(self, rq):
        created = submit(rq)
        got = rq.get(created.id)
        assert got.id == created.id and got.external_id == "ticket-8812:refund"
        assert got.created is False and got.raw["id"] == created.id

    def test_get_unknown_or_other_sources_item_is_not_found(self, live, rq):
        with pytest.raises(NotFound) as caught:
            rq.get("0190a000-0000-7000-8000-000000000000")
        assert caught.value.status == 404
        theirs = live.client(key=live.world.other_key).submit_item(item(queue="other"))
        with pytest.raises(NotFound):
            rq.get(theirs.id)

    def test_find_by_external_id_returns_the_item_or_none(self, rq):
        created = submit(rq, external_id="ticket/with spaces & ?")
        found = rq.find_by_external_id("ticket/with spaces & ?")
        assert found is not None and found.id == created.id
        assert rq.find_by_external_id("missing") is None

    def test_iter_recommendations_pages_through_everything(self, rq):
        ids = {submit(rq, external_id=f"e{i}").id for i in range(5)}
        assert {r.id for r in rq.iter_recommendations(page_size=2)} == ids
        assert {r.id for r in rq.iter_recommendations(status="decided")} == set()


class TestWaitForDecision:
    def test_returns_once_a_reviewer_decides(self, rq, reviewer):
        created = submit(rq)

        def review_later():
            time.sleep(0.3)
            claimed = reviewer.claim()
            assert claimed is not None
            reviewer.decide(
                claimed["id"],
                "modify",
                payload={"order_id": "A-1", "amount": 35.0},
                reason_code="wrong_amount",
                comment="Only 35 was charged twice.",
            )

        thread = threading.Thread(target=review_later)
        thread.start()
        decided = rq.wait_for_decision(created.id, timeout=10, poll_interval=0.05)
        thread.join()
        assert decided.status == "decided" and not decided.is_open
        decision = decided.decision
        assert decision is not None and decision.kind == "human" and decision.outcome == "modify"
        assert decision.payload == {"order_id": "A-1", "amount": 35.0}
        assert decision.reason_code == "wrong_amount" and decision.reviewer == "rita"
        assert decision.diff and decision.payload_hash and decision.decided_at is not None
        assert decided.execution is not None and decided.execution.status in (
            "pending",
            "running",
            "succeeded",
        )

    def test_times_out_with_a_typed_error(self, rq):
        created = submit(rq)
        started = time.monotonic()
        with pytest.raises(DecisionTimeout) as caught:
            rq.wait_for_decision(created.id, timeout=0.3, poll_interval=0.05)
        assert 0.3 <= time.monotonic() - started < 3
        assert caught.value.recommendation.status == "pending"

    def test_an_item_auto_approved_on_arrival_returns_at_once(self, live, rq):
        live.world.queue.stage = "supervised"
        live.world.queue.save()
        created = submit(rq, confidence=0.99, risk_score=0.1)
        assert created.route == "auto"
        decided = rq.wait_for_decision(created.id, timeout=1)
        assert decided.status == "auto_approved"
        assert decided.decision is not None and decided.decision.kind == "policy"


class TestHumanOutcome:
    def test_a_shadow_items_human_outcome_is_recorded(self, live, rq):
        live.world.queue.stage = "shadow"
        live.world.queue.save()
        from reviewqueue.selectors.targets import targets_forget

        targets_forget()
        created = submit(rq)
        assert created.status == "shadow"
        item = rq.post_human_outcome(
            created.id, "modify", payload={"order_id": "A-1", "amount": 30}, reason_code="other"
        )
        assert item.status == "decided" and item.decision is not None
        assert item.decision.outcome == "modify"

    def test_an_item_outside_shadow_is_a_typed_conflict(self, rq):
        created = submit(rq)
        with pytest.raises(Conflict) as caught:
            rq.post_human_outcome(created.id, "approve")
        assert caught.value.status == 409 and caught.value.type


class TestRetries:
    def test_server_errors_are_retried_then_raised(self, live, monkeypatch):
        calls = []

        def broken(**kwargs):
            calls.append(kwargs)
            raise RuntimeError("database on fire")

        monkeypatch.setattr("reviewqueue.api.ingest.recommendation_get_for_source", broken)
        with live.client(max_retries=2) as rq, pytest.raises(ServerError) as caught:
            rq.get("0190a000-0000-7000-8000-000000000000")
        assert caught.value.status == 500 and len(calls) == 3
        assert "fire" not in caught.value.detail  # the server does not leak its internals

    def test_a_server_error_followed_by_success_is_invisible(self, live, rq, monkeypatch):
        from reviewqueue.api import ingest

        created = submit(rq)
        real = ingest.recommendation_get_for_source
        calls = []

        def flaky(**kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("blip")
            return real(**kwargs)

        monkeypatch.setattr(ingest, "recommendation_get_for_source", flaky)
        assert rq.get(created.id).id == created.id and len(calls) == 2

    def test_a_lost_response_to_a_submit_is_retried_without_a_duplicate(self, live):
        class LoseFirstResponse(httpx.HTTPTransport):
            sent = 0

            def handle_request(self, request):
                response = super().handle_request(request)
                LoseFirstResponse.sent += 1
                if LoseFirstResponse.sent == 1:
                    response.read()
                    raise httpx.ReadError("connection reset after the server answered")
                return response

        with live.client(transport=LoseFirstResponse()) as rq:
            rec = submit(rq)
        assert LoseFirstResponse.sent == 2
        assert rec.created is False  # the server's answer to the retry: a replay
        assert RecommendationRow.objects.count() == 1

    def test_base_url_may_include_the_api_prefix(self, live, rq):
        created = submit(rq)
        with ReviewQueueClient(live.url + "/api/v1/", api_key=live.world.key) as other:
            assert other.get(created.id).id == created.id
