"""End to end: a real OpenAI Agents SDK agent (stub model, no network) whose tools need
approval, paused on Review Queue, reviewed over the HTTP API, resumed; also after its run
state was serialised and restored in a "new process"."""

import pytest
from agents import Agent
from reviewqueue_client.openai_agents import (
    AsyncReviewQueueApprovals,
    ReviewQueueApprovals,
)

from reviewqueue.models import Recommendation as RecommendationRow
from tests.client.conftest import run_async
from tests.client.openai_agents_kit import (
    EMAIL_ARGS,
    NO_TRACING,
    REFUND_ARGS,
    USER_ASK,
    StubModel,
    build_agent,
)
from tests.client.test_langgraph import Recording, in_background

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = ("refund-agent", "2026-10-01")


def in_thread(fn, *args, **kwargs):
    """Call in a fresh thread: Playwright's sync API leaves an event loop running in the main
    thread for the rest of the session, and Runner.run_sync refuses to run under one."""
    return in_background(fn, *args, **kwargs).result(timeout=30)


def approvals(live, client=None, **options) -> ReviewQueueApprovals:
    options.setdefault("poll_interval", 0.05)
    options.setdefault("max_poll_interval", 0.2)
    options.setdefault("wait_timeout", 20)
    return ReviewQueueApprovals(client or live.client(), "refunds", model=MODEL, **options)


class TestBlocking:
    def test_a_modified_call_runs_with_the_reviewers_arguments(self, live, reviewer):
        log: list = []
        hitl = approvals(live, prompt_version="refund-v7", confidence=0.8, risk_score=0.3)
        agent = build_agent(hitl, log)
        run = in_background(
            hitl.run_until_done, agent, USER_ASK, run_id="ticket-8812", run_config=NO_TRACING
        )

        proposed = reviewer.wait_and_claim()
        assert proposed["action"] == {"type": "tool.issue_refund", "payload": REFUND_ARGS}
        assert proposed["external_id"] == "oa:ticket-8812:call_refund"
        assert proposed["metadata"]["openai_agents"] == {
            "run_id": "ticket-8812",
            "call_id": "call_refund",
            "tool": "issue_refund",
            "agent": "refund-agent",
        }
        assert proposed["prompt_version"] == "refund-v7" and proposed["confidence"] == 0.8
        assert not log  # nothing ran before the decision

        reviewer.decide(
            proposed["id"],
            "modify",
            payload={"order_id": "A-1", "amount": 35.0},
            reason_code="wrong_amount",
        )
        result = run.result(timeout=30)
        assert log == [("issue_refund", {"order_id": "A-1", "amount": 35.0})]
        assert result.final_output == "Done. refunded 35.0 on A-1"

    def test_approve_runs_the_call_as_proposed(self, live, reviewer):
        log: list = []
        hitl = approvals(live)
        agent = build_agent(hitl, log)
        run = in_background(
            hitl.run_until_done, agent, USER_ASK, run_id="t-approve", run_config=NO_TRACING
        )
        reviewer.decide(reviewer.wait_and_claim()["id"], "approve")
        assert run.result(timeout=30).final_output == "Done. refunded 40.0 on A-1"
        assert log == [("issue_refund", REFUND_ARGS)]

    def test_reject_reaches_the_model_as_the_tools_refusal(self, live, reviewer):
        log: list = []
        hitl = approvals(live)
        model = StubModel()
        agent = build_agent(hitl, log, model)
        run = in_background(
            hitl.run_until_done, agent, USER_ASK, run_id="t-reject", run_config=NO_TRACING
        )
        reviewer.decide(
            reviewer.wait_and_claim()["id"],
            "reject",
            reason_code="policy_violation",
            comment="Refunds over 30 need a manager.",
        )
        result = run.result(timeout=30)
        assert log == []  # the tool never ran
        assert result.final_output == "Done. policy_violation: Refunds over 30 need a manager."
        [output] = [i for i in model.seen[-1] if i.get("type") == "function_call_output"]
        assert output["call_id"] == "call_refund"

    def test_several_calls_become_several_items_each_answered_by_its_decision(self, live, reviewer):
        log: list = []
        hitl = approvals(live)
        plan = [
            ("issue_refund", REFUND_ARGS, "call_refund"),
            ("send_email", EMAIL_ARGS, "call_email"),
        ]
        agent = build_agent(hitl, log, StubModel(plan))
        run = in_background(
            hitl.run_until_done, agent, USER_ASK, run_id="t-two", run_config=NO_TRACING
        )
        for _ in range(2):
            item = reviewer.wait_and_claim()
            if item["action"]["type"] == "tool.issue_refund":
                reviewer.decide(item["id"], "approve")
            else:
                reviewer.decide(item["id"], "reject", reason_code="other", comment="duplicate")
        result = run.result(timeout=30)
        assert log == [("issue_refund", REFUND_ARGS)]
        assert result.final_output == "Done. refunded 40.0 on A-1 | other: duplicate"
        assert RecommendationRow.objects.count() == 2


class TestRestart:
    def test_a_restored_run_state_resumes_in_a_new_process_without_posting_twice(
        self, live, reviewer
    ):
        # Process 1: the run pauses, its call is submitted, its state is serialised; it dies.
        log: list = []
        first = approvals(live)
        paused = in_thread(
            first.start,
            build_agent(first, log),
            USER_ASK,
            run_id="t-restart",
            run_config=NO_TRACING,
        )
        assert not paused.done and paused.state is not None and len(paused.waiting_on) == 1
        stored = paused.state  # e.g. a text column
        del first, paused

        # Process 2: new client, adapter, model and agent; the state comes from storage.
        transport = Recording()
        second = approvals(live, live.client(transport=transport))
        agent = build_agent(second, log, StubModel())
        early = in_thread(second.resume, agent, stored, run_id="t-restart", run_config=NO_TRACING)
        assert not early.done and not early.resumed and len(early.waiting_on) == 1
        assert early.state == stored and log == []

        proposed = reviewer.claim()
        assert proposed is not None
        reviewer.decide(
            proposed["id"],
            "modify",
            payload={"order_id": "A-1", "amount": 20.0},
            reason_code="wrong_amount",
        )
        done = in_thread(second.resume, agent, stored, run_id="t-restart", run_config=NO_TRACING)
        assert done.done and done.resumed and done.state is None
        assert done.final_output == "Done. refunded 20.0 on A-1"
        assert log == [("issue_refund", {"order_id": "A-1", "amount": 20.0})]
        assert ("POST", "/api/v1/recommendations") not in transport.sent
        assert RecommendationRow.objects.count() == 1

    def test_run_until_done_picks_up_a_restored_state_and_hears_the_rejection(self, live, reviewer):
        log: list = []
        first = approvals(live)
        stored = in_thread(
            first.start, build_agent(first, log), USER_ASK, run_id="t-pickup", run_config=NO_TRACING
        ).state
        assert stored is not None

        transport = Recording()
        second = approvals(live, live.client(transport=transport))
        agent = build_agent(second, log, StubModel())
        state = in_thread(second.restore, agent, stored)
        run = in_background(
            second.run_until_done, agent, state, run_id="t-pickup", run_config=NO_TRACING
        )
        reviewer.decide(
            reviewer.wait_and_claim()["id"], "reject", reason_code="other", comment="fraud risk"
        )
        result = run.result(timeout=30)
        assert log == [] and result.final_output == "Done. other: fraud risk"
        assert ("POST", "/api/v1/recommendations") not in transport.sent
        assert RecommendationRow.objects.count() == 1


class TestAsync:
    def test_async_adapter_runs_the_same_loop(self, live, reviewer):
        log: list = []

        async def main():
            from reviewqueue_client import AsyncReviewQueueClient

            async with AsyncReviewQueueClient(live.url, api_key=live.world.key) as client:
                hitl = AsyncReviewQueueApprovals(
                    client, "refunds", model=MODEL, poll_interval=0.05, max_poll_interval=0.2
                )
                agent: Agent = build_agent(hitl, log)
                return await hitl.run_until_done(
                    agent, USER_ASK, run_id="t-async", run_config=NO_TRACING, timeout=20
                )

        run = in_background(run_async, main())
        reviewer.decide(
            reviewer.wait_and_claim()["id"],
            "modify",
            payload={"order_id": "A-1", "amount": 1.5},
            reason_code="wrong_amount",
        )
        assert run.result(timeout=30).final_output == "Done. refunded 1.5 on A-1"
        assert log == [("issue_refund", {"order_id": "A-1", "amount": 1.5})]
