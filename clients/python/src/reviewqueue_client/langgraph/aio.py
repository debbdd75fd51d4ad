"""The async adapter."""

from __future__ import annotations

import time
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from reviewqueue_client.aio import AsyncReviewQueueClient
from reviewqueue_client.errors import Conflict
from reviewqueue_client.langgraph._base import (
    Graph,
    PendingInterrupt,
    PendingToolCall,
    RunResult,
    Submitted,
    _HITLBase,
    _thread_id,
    logger,
)
from reviewqueue_client.langgraph._locks import _async_thread_lock
from reviewqueue_client.models import (
    CallbackEvent,
    Recommendation,
)


class AsyncReviewQueueHITL(_HITLBase):
    """ReviewQueueHITL for async code: the same methods, awaited (graph.ainvoke)."""

    def __init__(self, client: AsyncReviewQueueClient, queue: str, **options: Any) -> None:
        super().__init__(queue=queue, **options)
        self.client = client

    async def pending(self, graph: Graph, config: RunnableConfig) -> list[PendingInterrupt]:
        return self.pending_from(await graph.aget_state(config), config)

    async def submit_call(self, call: PendingToolCall) -> Recommendation:
        try:
            return self._notify(call, await self.client.submit_item(self.recommendation_for(call)))
        except Conflict:
            existing = await self.client.find_by_external_id(call.external_id)
            if existing is None:
                raise
            logger.warning("Using existing item %s for %s", existing.id, call.external_id)
            return self._notify(call, existing)

    async def ensure_submitted(self, call: PendingToolCall) -> Recommendation:
        existing = await self.client.find_by_external_id(call.external_id)
        if existing is not None:
            return self._notify(call, existing)
        return await self.submit_call(call)

    async def submit(self, graph: Graph, config: RunnableConfig) -> list[Submitted]:
        calls = self._calls(await self.pending(graph, config))
        return [Submitted(c, await self.submit_call(c)) for c in calls]

    async def run_until_done(
        self,
        graph: Graph,
        input: Any,
        config: RunnableConfig,
        *,
        timeout: float | None = None,
    ) -> Any:
        budget = self.wait_timeout if timeout is None else timeout
        snapshot = await graph.aget_state(config)
        picked_up = input is None and bool(snapshot.interrupts)
        if input is not None or (snapshot.next and not snapshot.interrupts):
            await graph.ainvoke(input, config)
            snapshot = await graph.aget_state(config)
        while True:
            interrupts = self.pending_from(snapshot, config)
            if not interrupts:
                return snapshot.values
            decided: dict[str, Recommendation] = {}
            deadline = time.monotonic() + budget
            for call in self._calls(interrupts):
                if picked_up:
                    rec = await self.ensure_submitted(call)
                else:
                    rec = await self.submit_call(call)
                if rec.is_open:
                    rec = await self.client.wait_for_decision(
                        rec.id,
                        timeout=max(0.0, deadline - time.monotonic()),
                        poll_interval=self.poll_interval,
                        max_poll_interval=self.max_poll_interval,
                    )
                decided[call.external_id] = rec
            await graph.ainvoke(Command(resume=self.resume_value(interrupts, decided)), config)
            snapshot = await graph.aget_state(config)
            picked_up = False

    async def start(self, graph: Graph, input: Any, config: RunnableConfig) -> RunResult:
        await graph.ainvoke(input, config)
        return await self._settle(graph, config, resumed=False)

    async def _settle(self, graph: Graph, config: RunnableConfig, *, resumed: bool) -> RunResult:
        snapshot = await graph.aget_state(config)
        interrupts = self.pending_from(snapshot, config)
        if not interrupts:
            return RunResult(done=not snapshot.next, value=snapshot.values, resumed=resumed)
        waiting = [Submitted(c, await self.submit_call(c)) for c in self._calls(interrupts)]
        return RunResult(done=False, value=snapshot.values, waiting_on=waiting, resumed=resumed)

    async def thread_config(self, event: CallbackEvent | Recommendation | str) -> RunnableConfig:
        if isinstance(event, Recommendation):
            rec = event
        else:
            rec_id = event.recommendation_id if isinstance(event, CallbackEvent) else event
            rec = await self.client.get(rec_id)
        return self._thread_from(rec)

    async def resume_from_decision(
        self,
        graph: Graph,
        config: RunnableConfig | None,
        event: CallbackEvent | Recommendation | str | None = None,
    ) -> RunResult:
        if config is None:
            if event is None:
                raise ValueError("Pass the graph config or the event.")
            config = await self.thread_config(event)
        async with _async_thread_lock(_thread_id(config)):
            snapshot = await graph.aget_state(config)
            interrupts = self.pending_from(snapshot, config)
            if not interrupts:
                return RunResult(done=not snapshot.next, value=snapshot.values)
            decided: dict[str, Recommendation] = {}
            waiting: list[Submitted] = []
            for call in self._calls(interrupts):
                rec = await self.ensure_submitted(call)
                if rec.is_open:
                    waiting.append(Submitted(call, rec))
                decided[call.external_id] = rec
            if waiting:
                return RunResult(done=False, value=snapshot.values, waiting_on=waiting)
            await graph.ainvoke(Command(resume=self.resume_value(interrupts, decided)), config)
            return await self._settle(graph, config, resumed=True)
