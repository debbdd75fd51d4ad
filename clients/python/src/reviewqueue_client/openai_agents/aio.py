"""The async adapter (await Runner.run)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from agents import Agent, Runner, RunResult, RunState

from reviewqueue_client.aio import AsyncReviewQueueClient
from reviewqueue_client.errors import Conflict
from reviewqueue_client.models import CallbackEvent, Recommendation
from reviewqueue_client.openai_agents._base import (
    PendingApproval,
    RunOutcome,
    Submitted,
    _ApprovalsBase,
    logger,
)

type Input = str | list[Any]


class AsyncReviewQueueApprovals(_ApprovalsBase):
    """ReviewQueueApprovals for async code: the same methods, awaited (Runner.run)."""

    def __init__(self, client: AsyncReviewQueueClient, queue: str, **options: Any) -> None:
        super().__init__(queue=queue, **options)
        self.client = client

    async def submit_approval(self, approval: PendingApproval) -> Recommendation:
        try:
            rec = await self.client.submit_item(self.recommendation_for(approval))
        except Conflict:
            existing = await self.client.find_by_external_id(approval.external_id)
            if existing is None:
                raise
            logger.warning("Using existing item %s for %s", existing.id, approval.external_id)
            rec = existing
        return self._notify(approval, rec)

    async def ensure_submitted(self, approval: PendingApproval) -> Recommendation:
        existing = await self.client.find_by_external_id(approval.external_id)
        if existing is not None:
            return self._notify(approval, existing)
        return await self.submit_approval(approval)

    async def restore(
        self, agent: Agent[Any], state: str | RunState[Any, Any]
    ) -> RunState[Any, Any]:
        if isinstance(state, RunState):
            return state
        return await RunState.from_string(agent, state)

    async def run_until_done(
        self,
        agent: Agent[Any],
        input: Input | RunState[Any, Any],
        *,
        run_id: str,
        timeout: float | None = None,
        on_state: Callable[[str], None] | None = None,
        **run_kwargs: Any,
    ) -> RunResult:
        budget = self.wait_timeout if timeout is None else timeout
        picked_up = isinstance(input, RunState) and bool(input.get_interruptions())
        if picked_up:
            assert isinstance(input, RunState)
            state, interruptions = input, input.get_interruptions()
        else:
            result = await Runner.run(agent, input, **run_kwargs)
            state, interruptions = result.to_state(), result.interruptions
        while interruptions:
            if on_state is not None:  # keep it: a restart continues from it
                on_state(state.to_string())
            deadline = time.monotonic() + budget
            decided = []
            for approval in self.pending_from(interruptions, run_id):
                if picked_up:
                    rec = await self.ensure_submitted(approval)
                else:
                    rec = await self.submit_approval(approval)
                if rec.is_open:
                    rec = await self.client.wait_for_decision(
                        rec.id,
                        timeout=max(0.0, deadline - time.monotonic()),
                        poll_interval=self.poll_interval,
                        max_poll_interval=self.max_poll_interval,
                    )
                decided.append((approval, rec))
            self.apply(state, decided)
            result = await Runner.run(agent, state, **run_kwargs)
            state, interruptions = result.to_state(), result.interruptions
            picked_up = False
        return result

    async def start(
        self, agent: Agent[Any], input: Input, *, run_id: str, **run_kwargs: Any
    ) -> RunOutcome:
        result = await Runner.run(agent, input, **run_kwargs)
        return await self._settle(result, run_id, resumed=False)

    async def resume(
        self,
        agent: Agent[Any],
        state: str | RunState[Any, Any],
        *,
        run_id: str,
        **run_kwargs: Any,
    ) -> RunOutcome:
        run_state = await self.restore(agent, state)
        decided: list[tuple[PendingApproval, Recommendation]] = []
        waiting: list[Submitted] = []
        for approval in self.pending_from(run_state.get_interruptions(), run_id):
            rec = await self.ensure_submitted(approval)
            if rec.is_open:
                waiting.append(Submitted(approval, rec))
            decided.append((approval, rec))
        if waiting:
            serialised = state if isinstance(state, str) else run_state.to_string()
            return RunOutcome(done=False, result=None, state=serialised, waiting_on=waiting)
        self.apply(run_state, decided)
        result = await Runner.run(agent, run_state, **run_kwargs)
        return await self._settle(result, run_id, resumed=True)

    async def run_id_for(self, event: CallbackEvent | Recommendation | str) -> str:
        if isinstance(event, Recommendation):
            return self.run_id_from(event)
        rec_id = event.recommendation_id if isinstance(event, CallbackEvent) else event
        return self.run_id_from(await self.client.get(rec_id))

    async def _settle(self, result: RunResult, run_id: str, *, resumed: bool) -> RunOutcome:
        if not result.interruptions:
            return RunOutcome(done=True, result=result, resumed=resumed)
        waiting = [
            Submitted(a, await self.submit_approval(a))
            for a in self.pending_from(result.interruptions, run_id)
        ]
        return RunOutcome(
            done=False,
            result=result,
            state=result.to_state().to_string(),
            waiting_on=waiting,
            resumed=resumed,
        )
