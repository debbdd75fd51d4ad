"""A real LangChain agent (create_agent + HumanInTheLoopMiddleware) whose chat model is
scripted: no network, and restart-safe (its answer depends only on the conversation, so a
fresh model in a "new process" continues where the old one stopped)."""

from collections.abc import Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool, tool
from pydantic import Field

REFUND_CALL = {
    "name": "issue_refund",
    "args": {"order_id": "A-1", "amount": 40.0},
    "id": "call_refund",
}
EMAIL_CALL = {
    "name": "send_email",
    "args": {"to": "customer@example.com", "body": "Your refund is on its way."},
    "id": "call_email",
}


class ScriptedChatModel(BaseChatModel):
    """Proposes `plan` (tool calls) in answer to the user; once tools have answered, says
    what they said. Records every conversation it is shown in `seen`."""

    plan: list[dict[str, Any]] = Field(default_factory=lambda: [REFUND_CALL])
    text: str = "Order A-1 was charged twice; refunding the duplicate charge."
    seen: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> "ScriptedChatModel":  # type: ignore[override]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.seen.append(list(messages))
        if isinstance(messages[-1], HumanMessage):
            calls = [{**c, "type": "tool_call"} for c in self.plan]
            reply = AIMessage(content=self.text, tool_calls=calls)
        else:
            said = [str(m.content) for m in messages if isinstance(m, ToolMessage)]
            reply = AIMessage(content="Done. " + " | ".join(said))
        return ChatResult(generations=[ChatGeneration(message=reply)])


def make_tools(log: list[tuple[str, dict[str, Any]]]) -> list[BaseTool]:
    @tool
    def issue_refund(order_id: str, amount: float) -> str:
        """Refund `amount` on an order."""
        log.append(("issue_refund", {"order_id": order_id, "amount": amount}))
        return f"refunded {amount} on {order_id}"

    @tool
    def send_email(to: str, body: str) -> str:
        """Email a customer."""
        log.append(("send_email", {"to": to, "body": body}))
        return f"emailed {to}"

    return [issue_refund, send_email]


def build_agent(
    log: list[tuple[str, dict[str, Any]]],
    checkpointer: Any,
    *,
    model: ScriptedChatModel | None = None,
    mode: str = "batched",
    interrupt_on: dict[str, Any] | None = None,
) -> Any:
    return create_agent(
        model or ScriptedChatModel(),
        tools=make_tools(log),
        middleware=[
            HumanInTheLoopMiddleware(
                interrupt_on=interrupt_on or {"issue_refund": True, "send_email": True},
                interrupt_mode=mode,  # type: ignore[arg-type]
            )
        ],
        checkpointer=checkpointer,
    )


USER_ASK = {"messages": [{"role": "user", "content": "Order A-1 was charged twice. Fix it."}]}


def thread(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def tool_messages(state: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]
