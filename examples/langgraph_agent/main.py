"""A LangChain agent whose refunds wait for a person in Review Queue. Copy this file.

Run it against a Review Queue (e.g. `scripts/run` in another terminal):

    uv run python -m examples.langgraph_agent

The agent proposes a refund and pauses. Open the URL it prints, sign in as a reviewer
(`scripts/run` prints the demo passwords), and Approve, Modify (e.g. change the amount) or
Reject it (or run `uv run python examples/decide.py modify amount=25` in a third terminal):
the agent continues with what you decided and prints its last message.

The chat model here is scripted so the example runs offline; put your own in its place,
e.g. `from langchain.chat_models import init_chat_model; model = init_chat_model(...)`.

Settings (environment):
    REVIEWQUEUE_URL          the app (default http://127.0.0.1:8000)
    REVIEWQUEUE_API_KEY      a source's API key (default: the demo key in var/demo-api-key)
    REVIEWQUEUE_QUEUE        the queue (default refunds)
    REVIEWQUEUE_ACTION_TYPE  the action type the tool call is posted as (default agent.refund,
                             which the demo config has). Use an action type with the `noop`
                             executor: the agent runs the tool itself once a person decided,
                             so Review Queue must not execute it too.
    REVIEWQUEUE_WAIT_TIMEOUT seconds to wait for a decision (default 3600)
"""

import os
import sys
import uuid
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from reviewqueue_client import ReviewQueueClient
from reviewqueue_client.langgraph import ReviewQueueHITL, Submitted


@tool
def issue_refund(order_id: str, amount: float) -> str:
    """Refund `amount` on an order."""
    return f"Refunded {amount} on order {order_id}."


class OfflineModel(BaseChatModel):
    """Stands in for a real chat model: proposes one refund, then reports the result."""

    @property
    def _llm_type(self) -> str:
        return "offline-example"

    def bind_tools(self, tools: Any, **kwargs: Any) -> "OfflineModel":  # type: ignore[override]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        if isinstance(messages[-1], HumanMessage):
            call = {
                "name": "issue_refund",
                "args": {"order_id": "A-1", "amount": 40.0},
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "tool_call",
            }
            reply = AIMessage(
                content="Order A-1 was charged twice (40.00); I will refund the duplicate.",
                tool_calls=[call],
            )
        else:
            reply = AIMessage(content=f"Tool said: {messages[-1].content}")
            if isinstance(messages[-1], ToolMessage) and messages[-1].status == "error":
                reply = AIMessage(content=f"No refund. {messages[-1].content}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


def _api_key() -> str:
    key = os.environ.get("REVIEWQUEUE_API_KEY")
    demo = Path(__file__).resolve().parents[2] / "var" / "demo-api-key"
    if not key and demo.exists():
        key = demo.read_text().strip()
    if not key:
        sys.exit("Set REVIEWQUEUE_API_KEY (python manage.py create_api_key SOURCE_NAME).")
    return key


def main(argv: list[str] | None = None) -> int:
    url = os.environ.get("REVIEWQUEUE_URL", "http://127.0.0.1:8000").rstrip("/")
    queue = os.environ.get("REVIEWQUEUE_QUEUE", "refunds")
    thread_id = (argv or sys.argv[1:] or [f"example-{uuid.uuid4().hex[:8]}"])[0]

    agent = create_agent(
        OfflineModel(),
        tools=[issue_refund],
        middleware=[HumanInTheLoopMiddleware(interrupt_on={"issue_refund": True})],
        checkpointer=InMemorySaver(),
    )

    def paused(submitted: Submitted) -> None:
        print(f"Waiting for a reviewer: {url}/queues/{queue}/review/", flush=True)
        print(
            f"  item {submitted.recommendation.id} ({submitted.call.name} {submitted.call.args})",
            flush=True,
        )

    with ReviewQueueClient(url, api_key=_api_key()) as client:
        hitl = ReviewQueueHITL(
            client,
            queue,
            model=("example-agent", "1"),
            action_types={
                "issue_refund": os.environ.get("REVIEWQUEUE_ACTION_TYPE", "agent.refund")
            },
            confidence=0.9,
            risk_score=0.4,
            # An agent is waiting live on this decision: put it ahead of the queue's backlog
            # (highest priority is claimed first), so the reviewer gets it next.
            priority=100,
            on_submitted=paused,
            wait_timeout=float(os.environ.get("REVIEWQUEUE_WAIT_TIMEOUT", "3600")),
        )
        state = hitl.run_until_done(
            agent,
            {"messages": [{"role": "user", "content": "I was charged twice for order A-1."}]},
            {"configurable": {"thread_id": thread_id}},
        )
    print(state["messages"][-1].content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
