"""The adapter's mapping, without a server: ids, bodies and answers."""

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import interrupt
from reviewqueue_client import Recommendation, ReviewQueueClient
from reviewqueue_client.langgraph import (
    DecisionNotAllowed,
    PendingToolCall,
    ReviewQueueHITL,
    UnsupportedInterrupt,
    external_id_for,
)
from typing_extensions import TypedDict

from tests.client.agent_kit import (
    EMAIL_CALL,
    REFUND_CALL,
    USER_ASK,
    ScriptedChatModel,
    build_agent,
    thread,
)


def hitl(**options) -> ReviewQueueHITL:
    return ReviewQueueHITL(
        ReviewQueueClient("http://rq.test", "k"), "refunds", model=("m", "1"), **options
    )


def call(allowed=("approve", "edit", "reject")) -> PendingToolCall:
    return PendingToolCall(
        thread_id="t",
        interrupt_id="i",
        position=0,
        tool_call_id="c",
        name="issue_refund",
        args={"order_id": "A-1", "amount": 40.0},
        description="",
        allowed_decisions=allowed,
        model_text="",
        external_id="lg:t:i:c",
    )


def decided(outcome=None, status="decided", **decision) -> Recommendation:
    body = {"id": "r1", "status": status, "action": {"type": "tool.x", "payload": {"amount": 40}}}
    if outcome:
        body["decision"] = {"kind": "human", "outcome": outcome, **decision}
    return Recommendation.from_json(body)


class TestAnswers:
    def test_approve_modify_reject_and_expiry_map_to_middleware_decisions(self):
        h = hitl()
        assert h.hitl_decision(call(), decided("approve")) == {"type": "approve"}
        assert h.hitl_decision(call(), decided("modify", payload={"amount": 1})) == {
            "type": "edit",
            "edited_action": {"name": "issue_refund", "args": {"amount": 1}},
        }
        assert h.hitl_decision(
            call(), decided("reject", reason_code="wrong_amount", comment="Too much.")
        ) == {"type": "reject", "message": "wrong_amount: Too much."}
        assert h.hitl_decision(call(), decided("reject"))["message"] == "rejected by a reviewer"
        expired = h.hitl_decision(call(), decided(status="expired"))
        assert expired["type"] == "reject" and expired["message"].startswith("expired:")

    def test_an_auto_approval_is_an_approve(self):
        rec = decided("approve", status="auto_approved", kind="policy")
        assert hitl().hitl_decision(call(), rec) == {"type": "approve"}

    def test_a_modify_on_a_tool_without_edit_is_refused_loudly(self):
        with pytest.raises(DecisionNotAllowed, match="allows only"):
            hitl().hitl_decision(call(allowed=("approve", "reject")), decided("modify", payload={}))

    def test_reject_message_is_configurable(self):
        h = hitl(reject_message=lambda rec: f"no ({rec.decision.reason_code})")
        assert h.hitl_decision(call(), decided("reject", reason_code="x"))["message"] == "no (x)"


class TestRecommendations:
    def test_external_ids_are_deterministic_and_fit_the_api(self):
        assert external_id_for("lg", "t", "i", "c") == "lg:t:i:c"
        long = external_id_for("lg", "t" * 300, "i", "c")
        assert len(long) <= 200 and long == external_id_for("lg", "t" * 300, "i", "c")
        assert long != external_id_for("lg", "t" * 301, "i", "c")

    def test_body_uses_the_mapping_and_per_call_functions(self):
        h = hitl(
            action_types={"issue_refund": "refund.issue"},
            confidence=lambda c: 0.7 if c.args["amount"] < 50 else 0.2,
            risk_score=0.4,
            metadata={"team": "billing"},
            evidence=lambda c: [{"title": f"Order {c.args['order_id']}"}],
        )
        body = h.recommendation_for(call()).to_json()
        assert body["action"] == {
            "type": "refund.issue",
            "payload": {"order_id": "A-1", "amount": 40.0},
        }
        assert body["confidence"] == 0.7 and body["risk_score"] == 0.4
        assert body["metadata"]["team"] == "billing"
        assert body["metadata"]["langgraph"] == {
            "thread_id": "t",
            "interrupt_id": "i",
            "tool_call_id": "c",
            "tool": "issue_refund",
        }
        assert body["evidence"] == [{"title": "Order A-1"}]
        assert hitl().action_type_for("send_email") == "tool.send_email"
        assert hitl(action_types=str.upper).action_type_for("x") == "X"

    @pytest.mark.parametrize("mode", ["batched", "per_call"])
    def test_pending_calls_are_read_from_the_paused_graph(self, mode):
        agent = build_agent(
            [], InMemorySaver(), model=ScriptedChatModel(plan=[REFUND_CALL, EMAIL_CALL]), mode=mode
        )
        config = thread("t1")
        agent.invoke(USER_ASK, config)
        interrupts = hitl().pending(agent, config)
        calls = [c for i in interrupts for c in i.calls]
        assert [c.tool_call_id for c in calls] == ["call_refund", "call_email"]
        assert [c.name for c in calls] == ["issue_refund", "send_email"]
        assert all(c.external_id == f"lg:t1:{c.interrupt_id}:{c.tool_call_id}" for c in calls)
        assert len(interrupts) == (1 if mode == "batched" else 2)
        assert all(c.model_text.startswith("Order A-1") for c in calls)
        # The same state read again (another process) gives the same ids.
        assert hitl().pending(agent, config) == interrupts

    def test_only_gated_calls_are_pending_and_matched_by_id(self):
        agent = build_agent(
            [],
            InMemorySaver(),
            model=ScriptedChatModel(plan=[EMAIL_CALL, REFUND_CALL]),
            interrupt_on={"issue_refund": {"allowed_decisions": ["approve", "reject"]}},
        )
        agent.invoke(USER_ASK, thread("t2"))
        [intr] = hitl().pending(agent, thread("t2"))
        [only] = intr.calls
        assert only.tool_call_id == "call_refund" and only.allowed_decisions == (
            "approve",
            "reject",
        )

    def test_other_interrupts_are_refused(self):
        class State(TypedDict):
            x: str

        def ask(state: State) -> State:
            return {"x": interrupt("what now?")}

        builder = StateGraph(State)
        builder.add_node("ask", ask)
        builder.add_edge(START, "ask")
        graph = builder.compile(checkpointer=InMemorySaver())
        graph.invoke({"x": ""}, thread("t3"))
        with pytest.raises(UnsupportedInterrupt):
            hitl().pending(graph, thread("t3"))

    def test_a_config_without_thread_id_is_refused(self):
        agent = build_agent([], InMemorySaver())
        with pytest.raises(ValueError, match="thread_id"):
            hitl().pending_from(agent.get_state(thread("x")), {"configurable": {}})
