"""Review Queue as the approver of OpenAI Agents SDK tools with `needs_approval`.

When a run reaches a call to such a tool, the SDK pauses it with an interruption (a
`ToolApprovalItem`). This adapter turns each into a recommendation in a Review Queue queue
and, once reviewers have decided, continues the run from its state:

    approve  -> state.approve(item): the tool runs as the model proposed
    modify   -> state.approve(item): the tool runs with the reviewer's arguments
                (tools wrapped with `approvals.tool(...)`)
    reject   -> state.reject(item, rejection_message="<reason_code>: <comment>")
    expired  -> the same, "expired: ..."; the model reads the message as the tool's result

Each recommendation's external_id is `oa:<run id>:<call id>` and its content is built only
from the call and the adapter's settings, so a run restored from its serialised state
(`RunState.to_string()` / `from_string`) in a new process finds its items by external id and
never posts a call twice.

Two ways to run:

- blocking: `run_until_done(agent, input, run_id=...)` runs, submits, polls, applies, and
  loops until the run has a final output;
- callback-driven: `start(agent, input, run_id=...)` submits and returns a RunOutcome whose
  `state` you keep; on a `decision.made` callback, in any process,
  `resume(agent, state, run_id=...)` continues once every pending call is decided.

The agent runs the tool itself after the approval, so the action types these calls are
posted as should use the `noop` executor, else the action would be carried out twice.
"""

try:
    import agents  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "reviewqueue_client.openai_agents needs the OpenAI Agents SDK: install the "
        "'openai-agents' extra (pip install 'reviewqueue-client[openai-agents]')."
    ) from exc

from reviewqueue_client.openai_agents._base import (
    DecisionNotAllowed,
    PendingApproval,
    RunOutcome,
    Submitted,
)
from reviewqueue_client.openai_agents.aio import AsyncReviewQueueApprovals
from reviewqueue_client.openai_agents.sync import ReviewQueueApprovals

__all__ = [
    "AsyncReviewQueueApprovals",
    "DecisionNotAllowed",
    "PendingApproval",
    "ReviewQueueApprovals",
    "RunOutcome",
    "Submitted",
]
