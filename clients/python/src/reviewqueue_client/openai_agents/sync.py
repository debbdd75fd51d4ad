"""The blocking adapter (Runner.run_sync)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from agents import Agent, Runner, RunResult, RunState, ToolApprovalItem

from reviewqueue_client.errors import Conflict
from reviewqueue_client.models import CallbackEvent, Recommendation
from reviewqueue_client.openai_agents._base import (
    PendingApproval,
    RunOutcome,
    Submitted,
    _ApprovalsBase,
    logger,
)
from reviewqueue_client.sync import ReviewQueueClient

type Input = str | list[Any]


class ReviewQueueApprovals(_ApprovalsBase):
    """Route an OpenAI Agents SDK run's tool approvals (`needs_approval`) to a Review Queue
    queue, and resume the run with what reviewers decided.

    `queue` and `model` are required; `action_types` maps tool names to action types
    (default `tool.<name>`); `confidence`, `risk_score`, `rationale`, `evidence` and
    `priority` take a value or a function of the PendingApproval (keep them deterministic:
    a resubmission must be identical). Wrap tools with `tool()` so that a reviewer's
    modified arguments reach them. Extra keyword arguments of the run methods (e.g.
    `run_config`, `context`, `max_turns`) go to `Runner.run_sync`.
    """

    def __init__(self, client: ReviewQueueClient, queue: str, **options: Any) -> None:
        super().__init__(queue=queue, **options)
        self.client = client

    # -- items --------------------------------------------------------------------------

    def submit_approval(self, approval: PendingApproval) -> Recommendation:
        """Submit one call (idempotent: a replay answers with the existing item)."""
        try:
            return self._notify(
                approval, self.client.submit_item(self.recommendation_for(approval))
            )
        except Conflict:
            # Same external_id, other content (a setting changed between two processes):
            # the item already stored is the one reviewers see; use it.
            existing = self.client.find_by_external_id(approval.external_id)
            if existing is None:
                raise
            logger.warning("Using existing item %s for %s", existing.id, approval.external_id)
            return self._notify(approval, existing)

    def ensure_submitted(self, approval: PendingApproval) -> Recommendation:
        """The item for a call, looked up by external id first: a run restored after a
        restart finds what the last process posted, and posts only what is missing."""
        existing = self.client.find_by_external_id(approval.external_id)
        if existing is not None:
            return self._notify(approval, existing)
        return self.submit_approval(approval)

    def restore(self, agent: Agent[Any], state: str | RunState[Any, Any]) -> RunState[Any, Any]:
        """A RunState from its serialised form (`RunOutcome.state`, `RunState.to_string()`)."""
        if isinstance(state, RunState):
            return state
        return asyncio.run(RunState.from_string(agent, state))

    # -- blocking -----------------------------------------------------------------------

    def run_until_done(
        self,
        agent: Agent[Any],
        input: Input | RunState[Any, Any],
        *,
        run_id: str,
        timeout: float | None = None,
        on_state: Callable[[str], None] | None = None,
        **run_kwargs: Any,
    ) -> RunResult:
        """Run the agent; each time it pauses for approvals, submit them, wait for every
        decision, apply them, continue; return the final RunResult. `input` may be a
        restored RunState (e.g. after a crash): its pending calls are looked up by external
        id, never posted twice. `on_state` is called with the serialised state at each pause
        (store it; `restore` it after a restart). Raises DecisionTimeout when the decisions of one pause do not
        all come within `timeout` seconds (default `wait_timeout`)."""
        budget = self.wait_timeout if timeout is None else timeout
        picked_up = isinstance(input, RunState) and bool(input.get_interruptions())
        if picked_up:
            assert isinstance(input, RunState)
            state, interruptions = input, input.get_interruptions()
        else:
            result = Runner.run_sync(agent, input, **run_kwargs)
            state, interruptions = result.to_state(), result.interruptions
        while interruptions:
            if on_state is not None:  # keep it: a restart continues from it
                on_state(state.to_string())
            deadline = time.monotonic() + budget  # for all the decisions of this pause
            decided = []
            for approval in self.pending_from(interruptions, run_id):
                rec = (
                    self.ensure_submitted(approval) if picked_up else self.submit_approval(approval)
                )
                if rec.is_open:
                    rec = self.client.wait_for_decision(
                        rec.id,
                        timeout=max(0.0, deadline - time.monotonic()),
                        poll_interval=self.poll_interval,
                        max_poll_interval=self.max_poll_interval,
                    )
                decided.append((approval, rec))
            self.apply(state, decided)
            result = Runner.run_sync(agent, state, **run_kwargs)
            state, interruptions = result.to_state(), result.interruptions
            picked_up = False  # later pauses are new calls, never posted
        return result

    # -- callback-driven ----------------------------------------------------------------

    def start(
        self, agent: Agent[Any], input: Input, *, run_id: str, **run_kwargs: Any
    ) -> RunOutcome:
        """Run the agent, submit what it pauses on, and return at once. Keep
        `outcome.state` (e.g. in your database) for `resume`."""
        return self._settle(Runner.run_sync(agent, input, **run_kwargs), run_id, resumed=False)

    def resume(
        self,
        agent: Agent[Any],
        state: str | RunState[Any, Any],
        *,
        run_id: str,
        **run_kwargs: Any,
    ) -> RunOutcome:
        """Continue a paused run (its serialised state, in any process) once every call it
        waits on is decided; otherwise return `waiting_on` and the same state. The items are
        looked up by external id, so a late or repeated callback is only a nudge. Replace
        the stored state with `outcome.state` (None once done) before acknowledging: a
        state that already ran would run its approved calls again."""
        run_state = self.restore(agent, state)
        pending = self.pending_from(run_state.get_interruptions(), run_id)
        decided: list[tuple[PendingApproval, Recommendation]] = []
        waiting: list[Submitted] = []
        for approval in pending:
            rec = self.ensure_submitted(approval)
            if rec.is_open:
                waiting.append(Submitted(approval, rec))
            decided.append((approval, rec))
        if waiting:
            serialised = state if isinstance(state, str) else run_state.to_string()
            return RunOutcome(done=False, result=None, state=serialised, waiting_on=waiting)
        self.apply(run_state, decided)
        return self._settle(Runner.run_sync(agent, run_state, **run_kwargs), run_id, resumed=True)

    def run_id_for(self, event: CallbackEvent | Recommendation | str) -> str:
        """The run id an event's item was submitted for."""
        if isinstance(event, Recommendation):
            return self.run_id_from(event)
        rec_id = event.recommendation_id if isinstance(event, CallbackEvent) else event
        return self.run_id_from(self.client.get(rec_id))

    def _settle(self, result: RunResult, run_id: str, *, resumed: bool) -> RunOutcome:
        interruptions: list[ToolApprovalItem] = result.interruptions
        if not interruptions:
            return RunOutcome(done=True, result=result, resumed=resumed)
        waiting = [
            Submitted(a, self.submit_approval(a)) for a in self.pending_from(interruptions, run_id)
        ]
        state = result.to_state().to_string()
        return RunOutcome(
            done=False, result=result, state=state, waiting_on=waiting, resumed=resumed
        )
