"""An OpenAI Agents SDK agent whose refund tool needs approval, and Review Queue approves.
Copy this file.

    uv run python -m examples.openai_agents_agent      # against scripts/run's demo

The agent calls `issue_refund`, a tool with `needs_approval`; the run pauses and the call
appears in the `refunds` queue. Approve it, Modify it (change the amount) or Reject it in the
browser (or `uv run python examples/decide.py ITEM_ID reject policy_violation "Too much"`):
the run continues, the tool runs with the reviewer's arguments or not at all, and the agent's
final answer is printed. The run state is saved to a file while it waits: stop the example
(Ctrl-C) and run it again with the same run id and it picks up where it stopped, without a
second item.

The model here is a stub so the example runs offline (and tracing is off); put yours in its
place, e.g. `Agent(..., model="gpt-5-mini")`.

Settings (environment): REVIEWQUEUE_URL (default http://127.0.0.1:8000),
REVIEWQUEUE_API_KEY (default: the demo key in var/demo-api-key), REVIEWQUEUE_QUEUE (refunds),
REVIEWQUEUE_ACTION_TYPE (agent.refund, a `noop` action type: the agent runs the tool itself),
REVIEWQUEUE_WAIT_TIMEOUT (seconds, 3600), REVIEWQUEUE_STATE_DIR (where waiting runs are kept,
default var/agent-runs).
"""

import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from agents import Agent, RunConfig, function_tool
from agents.items import ModelResponse, TResponseStreamEvent
from agents.models.interface import Model
from agents.testing import assistant_message, function_call
from agents.usage import Usage
from reviewqueue_client import ReviewQueueClient
from reviewqueue_client.openai_agents import ReviewQueueApprovals, Submitted

ROOT = Path(__file__).resolve().parents[2]


@function_tool
def issue_refund(order_id: str, amount: float) -> str:
    """Refund `amount` on an order."""
    return f"Refunded {amount} on order {order_id}."


class OfflineModel(Model):
    """Stands in for a real model: asks for one refund, then reports what the tool said."""

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kw: Any
    ) -> ModelResponse:
        items = input if isinstance(input, list) else []
        outputs = [
            i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]
        if not outputs:
            call = function_call(
                "issue_refund",
                {"order_id": "A-1", "amount": 40.0},
                call_id=f"call_{uuid.uuid4().hex[:12]}",
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        text = f"Tool said: {outputs[-1]['output']}"
        return ModelResponse(output=[assistant_message(text)], usage=Usage(), response_id=None)

    async def stream_response(
        self, *args: Any, **kwargs: Any
    ) -> AsyncIterator[TResponseStreamEvent]:
        raise NotImplementedError
        yield  # pragma: no cover


def api_key() -> str:
    key = os.environ.get("REVIEWQUEUE_API_KEY")
    demo = ROOT / "var" / "demo-api-key"
    if not key and demo.exists():
        key = demo.read_text().strip()
    if not key:
        sys.exit("Set REVIEWQUEUE_API_KEY (python manage.py create_api_key SOURCE_NAME).")
    return key


def main(argv: list[str] | None = None) -> int:
    url = os.environ.get("REVIEWQUEUE_URL", "http://127.0.0.1:8000").rstrip("/")
    queue = os.environ.get("REVIEWQUEUE_QUEUE", "refunds")
    run_id = (argv or sys.argv[1:] or [f"example-{uuid.uuid4().hex[:8]}"])[0]
    states = Path(os.environ.get("REVIEWQUEUE_STATE_DIR", ROOT / "var" / "agent-runs"))
    saved = states / f"{run_id}.json"

    def paused(submitted: Submitted) -> None:
        print(f"Waiting for a reviewer: {url}/queues/{queue}/review/", flush=True)
        call = submitted.approval
        print(f"  item {submitted.recommendation.id} ({call.name} {call.args})", flush=True)

    with ReviewQueueClient(url, api_key=api_key()) as client:
        approvals = ReviewQueueApprovals(
            client,
            queue,
            model=("example-agent", "1"),
            action_types={
                "issue_refund": os.environ.get("REVIEWQUEUE_ACTION_TYPE", "agent.refund")
            },
            confidence=0.9,
            risk_score=0.4,
            priority=100,  # an agent waits live: ahead of the backlog
            on_submitted=paused,
            wait_timeout=float(os.environ.get("REVIEWQUEUE_WAIT_TIMEOUT", "3600")),
        )
        agent = Agent(
            name="refund-agent",
            instructions="Fix billing problems.",
            model=OfflineModel(),
            tools=[approvals.tool(issue_refund)],  # needs approval; a modify reaches it
        )
        ask: Any = "I was charged twice for order A-1."
        if saved.exists():  # this run was waiting when the last process stopped
            print(f"Picking up run {run_id} from {saved}")
            ask = approvals.restore(agent, saved.read_text())
        states.mkdir(parents=True, exist_ok=True)
        result = approvals.run_until_done(
            agent,
            ask,
            run_id=run_id,
            on_state=saved.write_text,  # the state at each pause, for a restart
            run_config=RunConfig(tracing_disabled=True),
        )
        saved.unlink(missing_ok=True)
    print(result.final_output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
