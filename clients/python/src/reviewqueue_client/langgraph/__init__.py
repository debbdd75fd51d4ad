"""Review Queue as the human of LangChain's `HumanInTheLoopMiddleware`.

The middleware pauses a LangGraph agent with an interrupt that lists the tool calls
waiting for a person. This adapter turns each of them into a recommendation in a Review
Queue queue and, once reviewers have decided, resumes the graph with the matching answers:

    approve  -> {"type": "approve"}
    modify   -> {"type": "edit", "edited_action": {"name": <tool>, "args": <reviewer's payload>}}
    reject   -> {"type": "reject", "message": "<reason_code>: <comment>"}   (the model sees it)
    expired  -> {"type": "reject", "message": "expired: ..."}

Both of the middleware's interrupt modes are understood: `batched` (one interrupt per model
turn, answered with `{"decisions": [...]}`) and `per_call` (one interrupt per tool call,
answered with one decision). The graph is always resumed with a map of interrupt id to
answer, so several pending interrupts are answered together.

Each recommendation's external_id is derived from the thread id, the interrupt id and the
tool-call id, and its content only from the checkpointed state and this adapter's
configuration, so submitting again (a retry, a restarted process) replays the same item
(200) and never creates a second one.

Two ways to run:

- blocking: `run_until_done(graph, input, config)` invokes the graph, submits what it waits
  for, polls until every item is decided, resumes, and loops until the graph ends;
- callback-driven: `start(graph, input, config)` submits and returns; later, in any process
  with the same checkpointer, `resume_from_decision(graph, config, event)` (from a verified
  `decision.made` callback) looks the items up by external_id and resumes once all of them
  are decided.

The agent runs the tool itself after the resume, so the action types these calls are posted
as should use the `noop` executor (or the tool should not act on its own), else the action
would be carried out twice.

Modules: `_base.py` (the items, the interrupt reading and answering both adapters share),
`_locks.py` (per-thread locks), `sync.py` (`ReviewQueueHITL`), `aio.py`
(`AsyncReviewQueueHITL`).
"""

try:
    import langchain_core  # noqa: F401
    import langgraph.types  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "reviewqueue_client.langgraph needs LangGraph and LangChain: install the "
        "'langgraph' extra (langgraph, langchain, langchain-core)."
    ) from exc

from reviewqueue_client.langgraph._base import (
    DecisionNotAllowed,
    PendingInterrupt,
    PendingToolCall,
    RunResult,
    Submitted,
    UnsupportedInterrupt,
    external_id_for,
)
from reviewqueue_client.langgraph.aio import AsyncReviewQueueHITL
from reviewqueue_client.langgraph.sync import ReviewQueueHITL

__all__ = [
    "AsyncReviewQueueHITL",
    "DecisionNotAllowed",
    "PendingInterrupt",
    "PendingToolCall",
    "ReviewQueueHITL",
    "RunResult",
    "Submitted",
    "UnsupportedInterrupt",
    "external_id_for",
]
