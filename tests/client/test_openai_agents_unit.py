"""The OpenAI Agents adapter's mapping, without a server: ids, bodies, and what a decision
does to the run state (stub model, no network)."""

import pytest
from agents import Agent, Runner, function_tool
from reviewqueue_client import Recommendation, ReviewQueueClient
from reviewqueue_client.openai_agents import DecisionNotAllowed, ReviewQueueApprovals

from tests.client.openai_agents_kit import NO_TRACING, REFUND_ARGS, USER_ASK, StubModel, build_agent
from tests.client.test_openai_agents import in_thread


def approvals(**options) -> ReviewQueueApprovals:
    return ReviewQueueApprovals(
        ReviewQueueClient("http://rq.test", "k"), "refunds", model=("m", "1"), **options
    )


def decided(outcome, **decision) -> Recommendation:
    body = {"id": "r1", "status": "decided", "action": {"type": "tool.x", "payload": {}}}
    body["decision"] = {"kind": "human", "outcome": outcome, **decision}
    return Recommendation.from_json(body)


def paused(hitl, agent, run_id="t-1"):
    result = in_thread(Runner.run_sync, agent, USER_ASK, run_config=NO_TRACING)
    return result, hitl.pending_from(result.interruptions, run_id)


def test_a_gated_tool_pauses_and_becomes_a_deterministic_body():
    log: list = []
    hitl = approvals(action_types={"issue_refund": "refund.issue"}, confidence=lambda a: 0.7)
    _, [approval] = paused(hitl, build_agent(hitl, log))
    assert log == []
    assert approval.external_id == "oa:t-1:call_refund" and approval.args == REFUND_ARGS
    body = hitl.recommendation_for(approval).to_json()
    assert body == hitl.recommendation_for(approval).to_json()
    assert body["action"] == {"type": "refund.issue", "payload": REFUND_ARGS}
    assert body["confidence"] == 0.7
    assert body["metadata"]["openai_agents"]["run_id"] == "t-1"


def test_long_run_ids_are_hashed_to_fit_the_api():
    hitl = approvals()
    _, [approval] = paused(hitl, build_agent(hitl, []), run_id="x" * 300)
    assert approval.external_id.startswith("oa:sha256:") and len(approval.external_id) <= 200


def test_a_run_id_is_required():
    hitl = approvals()
    result = in_thread(Runner.run_sync, build_agent(hitl, []), USER_ASK, run_config=NO_TRACING)
    with pytest.raises(ValueError, match="run_id"):
        hitl.pending_from(result.interruptions, "")


def test_a_modify_on_a_tool_not_wrapped_by_the_adapter_is_refused_loudly():
    @function_tool(needs_approval=True)
    def issue_refund(order_id: str, amount: float) -> str:
        """Refund."""
        return "refunded"

    hitl = approvals()
    agent = Agent(name="a", model=StubModel(), tools=[issue_refund])
    result, [approval] = paused(hitl, agent)
    with pytest.raises(DecisionNotAllowed, match="not wrapped"):
        hitl.apply(result.to_state(), [(approval, decided("modify", payload={"amount": 1}))])


def test_reject_message_is_configurable():
    log: list = []
    hitl = approvals(reject_message=lambda rec: f"no ({rec.decision.reason_code})")
    agent = build_agent(hitl, log)
    result, [approval] = paused(hitl, agent)
    state = result.to_state()
    hitl.apply(state, [(approval, decided("reject", reason_code="other"))])
    final = in_thread(Runner.run_sync, agent, state, run_config=NO_TRACING)
    assert final.final_output == "Done. no (other)" and log == []
