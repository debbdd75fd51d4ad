"""A real OpenAI Agents SDK agent whose model is a stub: no network, and restart-safe (its
answer depends only on the conversation, so a fresh model in a "new process" continues where
the old one stopped)."""

from collections.abc import AsyncIterator
from typing import Any

from agents import Agent, FunctionTool, RunConfig, function_tool
from agents.items import ModelResponse, TResponseStreamEvent
from agents.models.interface import Model
from agents.testing import assistant_message, function_call
from agents.usage import Usage

REFUND_ARGS = {"order_id": "A-1", "amount": 40.0}
EMAIL_ARGS = {"to": "customer@example.com", "body": "Your refund is on its way."}
NO_TRACING = RunConfig(tracing_disabled=True)  # tracing would try to export to the network
USER_ASK = "Order A-1 was charged twice. Fix it."


class StubModel(Model):
    """Calls the tools of `plan` in answer to the user; once the tools have answered, says
    what they said. Records every input it is shown in `seen`."""

    def __init__(self, plan: list[tuple[str, dict[str, Any], str]] | None = None) -> None:
        self.plan = plan or [("issue_refund", REFUND_ARGS, "call_refund")]
        self.seen: list[Any] = []

    async def get_response(
        self,
        system_instructions: Any,
        input: Any,
        model_settings: Any,
        tools: Any,
        output_schema: Any,
        handoffs: Any,
        tracing: Any,
        **kwargs: Any,
    ) -> ModelResponse:
        self.seen.append(input)
        items = input if isinstance(input, list) else []
        outputs = [
            i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]
        if not outputs:
            calls = [function_call(name, args, call_id=cid) for name, args, cid in self.plan]
            return ModelResponse(output=calls, usage=Usage(), response_id=None)
        said = " | ".join(str(o["output"]) for o in outputs)
        return ModelResponse(
            output=[assistant_message(f"Done. {said}")], usage=Usage(), response_id=None
        )

    async def stream_response(
        self, *args: Any, **kwargs: Any
    ) -> AsyncIterator[TResponseStreamEvent]:
        raise NotImplementedError("the stub does not stream")
        yield  # pragma: no cover


def make_tools(log: list[tuple[str, dict[str, Any]]]) -> list[FunctionTool]:
    @function_tool
    def issue_refund(order_id: str, amount: float) -> str:
        """Refund `amount` on an order."""
        log.append(("issue_refund", {"order_id": order_id, "amount": amount}))
        return f"refunded {amount} on {order_id}"

    @function_tool
    def send_email(to: str, body: str) -> str:
        """Email a customer."""
        log.append(("send_email", {"to": to, "body": body}))
        return f"emailed {to}"

    return [issue_refund, send_email]


def build_agent(
    approvals: Any, log: list[tuple[str, dict[str, Any]]], model: StubModel | None = None
) -> Agent[Any]:
    """The agent with both tools gated by `approvals` (ReviewQueueApprovals or its async twin)."""
    return Agent(
        name="refund-agent",
        instructions="Fix billing problems.",
        model=model or StubModel(),
        tools=approvals.tools(make_tools(log)),
    )
