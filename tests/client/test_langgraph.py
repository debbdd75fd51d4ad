"""End to end: a real LangGraph agent (create_agent + HumanInTheLoopMiddleware, scripted
chat model, no network) paused on Review Queue, reviewed over the HTTP API, resumed."""

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from reviewqueue_client import AsyncReviewQueueClient, DecisionTimeout, verify_callback
from reviewqueue_client.langgraph import AsyncReviewQueueHITL, ReviewQueueHITL

from reviewqueue.models import CallbackDelivery
from reviewqueue.models import Recommendation as RecommendationRow
from reviewqueue.services.callbacks import callback_deliver
from reviewqueue.services.review import recommendation_expire
from tests.client.agent_kit import (
    EMAIL_CALL,
    REFUND_CALL,
    USER_ASK,
    ScriptedChatModel,
    build_agent,
    thread,
    tool_messages,
)
from tests.client.conftest import run_async

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = ("refund-agent", "2026-10-01")


def adapter(live, **options) -> ReviewQueueHITL:
    options.setdefault("poll_interval", 0.05)
    options.setdefault("max_poll_interval", 0.2)
    options.setdefault("wait_timeout", 20)
    return ReviewQueueHITL(live.client(), "refunds", model=MODEL, **options)


def in_background(fn, *args, **kwargs):
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn, *args, **kwargs)
    pool.shutdown(wait=False)
    return future


class TestBlocking:
    def test_reviewer_modifies_and_the_tool_runs_with_the_modified_args(self, live, reviewer):
        log: list = []
        agent = build_agent(log, InMemorySaver())
        hitl = adapter(live, prompt_version="refund-v7", confidence=0.8, risk_score=0.3)
        run = in_background(hitl.run_until_done, agent, USER_ASK, thread("ticket-8812"))

        proposed = reviewer.wait_and_claim()  # the agent paused; its call is in the queue
        assert proposed["action"] == {"type": "tool.issue_refund", "payload": REFUND_CALL["args"]}
        assert proposed["external_id"].startswith("lg:ticket-8812:")
        assert proposed["external_id"].endswith(":call_refund")
        assert (
            proposed["rationale"] == "Order A-1 was charged twice; refunding the duplicate charge."
        )
        assert proposed["model"] == {"name": "refund-agent", "version": "2026-10-01"}
        assert proposed["prompt_version"] == "refund-v7" and proposed["confidence"] == 0.8
        assert proposed["metadata"]["langgraph"]["thread_id"] == "ticket-8812"
        assert proposed["metadata"]["langgraph"]["tool_call_id"] == "call_refund"
        assert not log  # nothing ran before the decision

        reviewer.decide(
            proposed["id"],
            "modify",
            payload={"order_id": "A-1", "amount": 35.0},
            reason_code="wrong_amount",
            comment="Only 35 was charged twice.",
        )
        state = run.result(timeout=30)
        assert log == [("issue_refund", {"order_id": "A-1", "amount": 35.0})]
        [result] = tool_messages(state)
        assert (
            "refunded 35.0 on A-1" in result.content and "human reviewer replaced" in result.content
        )
        assert state["messages"][-1].content.startswith("Done.")
        assert RecommendationRow.objects.count() == 1

    def test_reject_reaches_the_model_as_a_message(self, live, reviewer):
        log: list = []
        model = ScriptedChatModel()
        agent = build_agent(log, InMemorySaver(), model=model)
        run = in_background(adapter(live).run_until_done, agent, USER_ASK, thread("t-reject"))
        proposed = reviewer.wait_and_claim()
        reviewer.decide(
            proposed["id"],
            "reject",
            reason_code="policy_violation",
            comment="Refunds need the original receipt.",
        )
        state = run.result(timeout=30)
        assert log == []  # the tool never ran
        [result] = tool_messages(state)
        assert result.status == "error"
        expected = "policy_violation: Refunds need the original receipt."
        assert expected in result.content
        # The model's next turn was shown the reviewer's reason.
        assert any(expected in str(m.content) for m in model.seen[-1])

    @pytest.mark.parametrize("mode", ["batched", "per_call"])
    def test_several_calls_become_several_items_each_answered_by_its_decision(
        self, live, reviewer, mode
    ):
        log: list = []
        model = ScriptedChatModel(plan=[REFUND_CALL, EMAIL_CALL])
        agent = build_agent(log, InMemorySaver(), model=model, mode=mode)
        run = in_background(adapter(live).run_until_done, agent, USER_ASK, thread(f"t-{mode}"))
        decided = {}
        for _ in range(2):
            proposed = reviewer.wait_and_claim()
            if proposed["action"]["type"] == "tool.issue_refund":
                reviewer.decide(proposed["id"], "approve")
            else:
                reviewer.decide(proposed["id"], "reject", reason_code="other", comment="No email.")
            decided[proposed["action"]["type"]] = proposed["external_id"]
        state = run.result(timeout=30)
        assert log == [("issue_refund", REFUND_CALL["args"])]
        assert decided["tool.issue_refund"].endswith(":call_refund")
        assert decided["tool.send_email"].endswith(":call_email")
        contents = {m.tool_call_id: m.content for m in tool_messages(state)}
        assert contents["call_refund"] == "refunded 40.0 on A-1"
        assert "other: No email." in contents["call_email"]
        assert RecommendationRow.objects.count() == 2

    def test_an_item_that_expires_is_a_reject_the_model_hears_about(self, live):
        log: list = []
        agent = build_agent(log, InMemorySaver())
        hitl = adapter(live)
        paused = hitl.start(agent, USER_ASK, thread("t-expire"))
        [waiting] = paused.waiting_on
        RecommendationRow.objects.filter(pk=waiting.recommendation.id).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert recommendation_expire(recommendation_id=waiting.recommendation.id)
        state = hitl.run_until_done(agent, None, thread("t-expire"))
        assert log == []
        assert "expired:" in tool_messages(state)[0].content

    def test_a_timeout_leaves_the_thread_paused_to_pick_up_later(self, live, reviewer):
        log: list = []
        agent = build_agent(log, InMemorySaver())
        hitl = adapter(live)
        with pytest.raises(DecisionTimeout):
            hitl.run_until_done(agent, USER_ASK, thread("t-timeout"), timeout=0.3)
        assert agent.get_state(thread("t-timeout")).interrupts
        proposed = reviewer.claim()
        assert proposed is not None
        reviewer.decide(proposed["id"], "approve")
        state = hitl.run_until_done(agent, None, thread("t-timeout"), timeout=5)
        assert log == [("issue_refund", REFUND_CALL["args"])]
        assert state["messages"][-1].content == "Done. refunded 40.0 on A-1"
        assert RecommendationRow.objects.count() == 1


class TestCrashes:
    def test_a_crash_between_submit_and_resume_duplicates_nothing(self, live, reviewer, tmp_path):
        db = tmp_path / "checkpoints.sqlite"
        log: list = []
        config = thread("t-crash")

        # Process 1: the agent pauses, its call is submitted (twice: a retry), then it dies.
        conn = sqlite3.connect(db, check_same_thread=False)
        first = adapter(live)
        paused = first.start(build_agent(log, SqliteSaver(conn)), USER_ASK, config)
        again = first.submit(build_agent(log, SqliteSaver(conn)), config)
        assert not paused.done and len(paused.waiting_on) == 1
        assert paused.waiting_on[0].recommendation.created
        assert again[0].recommendation.id == paused.waiting_on[0].recommendation.id
        assert not again[0].recommendation.created
        conn.close()
        del first, paused, again

        # Process 2: new checkpointer connection, model, agent, client and adapter; even a
        # changed setting (confidence) must not create a second item.
        conn = sqlite3.connect(db, check_same_thread=False)
        second = adapter(live, confidence=0.99)
        agent = build_agent(log, SqliteSaver(conn), model=ScriptedChatModel())
        run = in_background(second.run_until_done, agent, None, config)
        proposed = reviewer.wait_and_claim()
        reviewer.decide(proposed["id"], "approve")
        state = run.result(timeout=30)
        conn.close()

        assert RecommendationRow.objects.count() == 1
        assert log == [("issue_refund", REFUND_CALL["args"])]  # ran exactly once
        assert tool_messages(state)[0].content == "refunded 40.0 on A-1"

    def test_a_restarted_process_finds_its_item_by_external_id_and_posts_nothing(
        self, live, reviewer, tmp_path
    ):
        db = tmp_path / "checkpoints.sqlite"
        log: list = []
        config = thread("t-restart")
        conn = sqlite3.connect(db, check_same_thread=False)
        paused = adapter(live).start(build_agent(log, SqliteSaver(conn)), USER_ASK, config)
        conn.close()
        [submitted] = paused.waiting_on

        # The new process picks the thread up from its checkpointer: it looks the pending
        # call up by external id and never posts it again (not even as a replay).
        transport = Recording()
        second = ReviewQueueHITL(
            live.client(transport=transport),
            "refunds",
            model=MODEL,
            poll_interval=0.05,
            max_poll_interval=0.2,
        )
        conn = sqlite3.connect(db, check_same_thread=False)
        agent = build_agent(log, SqliteSaver(conn), model=ScriptedChatModel())
        run = in_background(second.run_until_done, agent, None, config)
        proposed = reviewer.wait_and_claim()
        assert proposed["id"] == submitted.recommendation.id
        reviewer.decide(proposed["id"], "approve")
        state = run.result(timeout=30)
        conn.close()

        assert ("POST", "/api/v1/recommendations") not in transport.sent
        assert ("GET", "/api/v1/recommendations") in transport.sent  # by external id
        assert RecommendationRow.objects.count() == 1
        assert log == [("issue_refund", REFUND_CALL["args"])]
        assert tool_messages(state)[0].content == "refunded 40.0 on A-1"


class Recording(httpx.HTTPTransport):
    """A real transport that notes each request's method and path."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return super().handle_request(request)


class TestCallbackMode:
    @pytest.fixture
    def signed_callbacks(self, live, callback_receiver, settings, monkeypatch):
        monkeypatch.setenv("RQ_TEST_CALLBACK_SECRET", "cb-s3cret")
        settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = ["127.0.0.1:*"]
        source = live.world.source
        source.callback_url = callback_receiver.url
        source.signing_secret_env = "RQ_TEST_CALLBACK_SECRET"
        source.save()
        return callback_receiver

    def deliver_all(self):
        """What the Celery worker does: send every pending callback, signed."""
        for delivery in CallbackDelivery.objects.filter(status="pending").order_by("created_at"):
            assert callback_deliver(delivery_id=delivery.pk) == "delivered"

    def test_resume_from_a_verified_callback_in_another_process(
        self, live, reviewer, signed_callbacks, tmp_path
    ):
        db = tmp_path / "checkpoints.sqlite"
        log: list = []
        config = thread("t-callback")

        conn = sqlite3.connect(db, check_same_thread=False)
        paused = adapter(live).start(build_agent(log, SqliteSaver(conn)), USER_ASK, config)
        conn.close()
        assert not paused.done and len(paused.waiting_on) == 1

        proposed = reviewer.claim()
        assert proposed is not None
        reviewer.decide(
            proposed["id"],
            "modify",
            payload={"order_id": "A-1", "amount": 20.0},
            reason_code="wrong_amount",
        )
        self.deliver_all()
        [received] = signed_callbacks.wait(1)

        # The callback handler, in another process: verify, then resume from the checkpointer
        # (the thread is found from the item's metadata).
        event = verify_callback(
            received.body, received.headers["X-ReviewQueue-Signature"], "cb-s3cret"
        )
        assert event.type == "decision.made" and event.external_id == proposed["external_id"]
        assert event.decision is not None and event.decision.outcome == "modify"
        conn = sqlite3.connect(db, check_same_thread=False)
        agent = build_agent(log, SqliteSaver(conn), model=ScriptedChatModel())
        handler = adapter(live)
        result = handler.resume_from_decision(agent, None, event)
        assert result.resumed and result.done and not result.waiting_on
        assert log == [("issue_refund", {"order_id": "A-1", "amount": 20.0})]

        # A duplicate delivery of the same event changes nothing.
        again = handler.resume_from_decision(agent, None, event)
        assert not again.resumed and again.done
        assert len(log) == 1
        conn.close()

    def test_resumes_only_once_every_pending_call_is_decided(self, live, reviewer):
        log: list = []
        saver = InMemorySaver()
        model = ScriptedChatModel(plan=[REFUND_CALL, EMAIL_CALL])
        agent = build_agent(log, saver, model=model)
        config = thread("t-partial")
        hitl = adapter(live)
        paused = hitl.start(agent, USER_ASK, config)
        assert len(paused.waiting_on) == 2

        first = reviewer.claim()
        assert first is not None
        reviewer.decide(first["id"], "approve")
        waiting = hitl.resume_from_decision(agent, config, first["id"])
        assert not waiting.resumed and not waiting.done and len(waiting.waiting_on) == 1
        assert log == []

        second = reviewer.claim()
        assert second is not None
        reviewer.decide(second["id"], "approve")
        done = hitl.resume_from_decision(agent, config)
        assert done.resumed and done.done
        assert sorted(name for name, _ in log) == ["issue_refund", "send_email"]
        assert RecommendationRow.objects.count() == 2

    def test_an_item_lost_before_submit_is_submitted_on_resume(self, live, reviewer):
        # The process died after the graph paused but before it submitted anything.
        log: list = []
        agent = build_agent(log, InMemorySaver())
        config = thread("t-lost")
        agent.invoke(USER_ASK, config)
        assert RecommendationRow.objects.count() == 0
        result = adapter(live).resume_from_decision(agent, config)
        assert not result.resumed and len(result.waiting_on) == 1
        assert RecommendationRow.objects.count() == 1


class TestAsync:
    def test_async_adapter_runs_the_same_loop(self, live, reviewer):
        log: list = []
        agent = build_agent(log, InMemorySaver())

        def review():
            proposed = reviewer.wait_and_claim()
            reviewer.decide(
                proposed["id"],
                "modify",
                payload={"order_id": "A-1", "amount": 12.5},
                reason_code="other",
            )

        async def run():
            async with AsyncReviewQueueClient(live.url, live.world.key) as client:
                hitl = AsyncReviewQueueHITL(
                    client, "refunds", model=MODEL, poll_interval=0.05, max_poll_interval=0.2
                )
                return await hitl.run_until_done(agent, USER_ASK, thread("t-async"), timeout=20)

        person = in_background(review)
        state = run_async(run())
        person.result(timeout=5)
        assert log == [("issue_refund", {"order_id": "A-1", "amount": 12.5})]
        assert "refunded 12.5" in tool_messages(state)[0].content
