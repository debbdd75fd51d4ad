"""The blocking adapter."""

from __future__ import annotations

import time
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

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
from reviewqueue_client.langgraph._locks import _thread_lock
from reviewqueue_client.models import (
    CallbackEvent,
    Recommendation,
)
from reviewqueue_client.sync import ReviewQueueClient


class ReviewQueueHITL(_HITLBase):
    """Route a LangGraph agent's HumanInTheLoopMiddleware interrupts to a Review Queue queue.

    `queue` and `model` are required; `action_types` maps tool names to action types
    (default `tool.<name>`); `confidence`, `risk_score`, `rationale`, `evidence` and
    `priority` take a value or a function of the PendingToolCall (keep them deterministic:
    a resubmission must be identical). The default rationale is what the model wrote with
    the call, else the middleware's description.
    """

    def __init__(self, client: ReviewQueueClient, queue: str, **options: Any) -> None:
        super().__init__(queue=queue, **options)
        self.client = client

    def pending(self, graph: Graph, config: RunnableConfig) -> list[PendingInterrupt]:
        return self.pending_from(graph.get_state(config), config)

    def submit_call(self, call: PendingToolCall) -> Recommendation:
        """Submit one call (idempotent: a replay answers with the existing item)."""
        try:
            return self._notify(call, self.client.submit_item(self.recommendation_for(call)))
        except Conflict:
            # Same external_id, different content (the configuration changed between two
            # runs): the item already stored is the one reviewers see; use it.
            existing = self.client.find_by_external_id(call.external_id)
            if existing is None:
                raise
            logger.warning("Using existing item %s for %s", existing.id, call.external_id)
            return self._notify(call, existing)

    def ensure_submitted(self, call: PendingToolCall) -> Recommendation:
        """The item for a call, looked up by external id first: a thread picked up after a
        restart finds what the last process posted, and posts only what is missing."""
        existing = self.client.find_by_external_id(call.external_id)
        return self._notify(call, existing) if existing is not None else self.submit_call(call)

    def submit(self, graph: Graph, config: RunnableConfig) -> list[Submitted]:
        """Submit every tool call the thread is paused on; returns them with their items."""
        return [Submitted(c, self.submit_call(c)) for c in self._calls(self.pending(graph, config))]

    def run_until_done(
        self,
        graph: Graph,
        input: Any,
        config: RunnableConfig,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Invoke the graph; each time it pauses for review, submit, wait for every
        decision, resume; return the final state when the graph ends. With `input=None`
        it picks up a thread where it stands (e.g. after a crash), resubmitting nothing
        twice. Raises DecisionTimeout when the decisions of one pause do not all come
        within `timeout` seconds (default: `wait_timeout`); the thread stays paused and can
        be picked up later."""
        budget = self.wait_timeout if timeout is None else timeout
        snapshot = graph.get_state(config)
        # Picking a paused thread up: its calls may have been posted by an earlier process.
        picked_up = input is None and bool(snapshot.interrupts)
        if input is not None or (snapshot.next and not snapshot.interrupts):
            graph.invoke(input, config)
            snapshot = graph.get_state(config)
        while True:
            interrupts = self.pending_from(snapshot, config)
            if not interrupts:
                return snapshot.values
            decided: dict[str, Recommendation] = {}
            deadline = time.monotonic() + budget  # for all the decisions of this pause
            for call in self._calls(interrupts):
                rec = self.ensure_submitted(call) if picked_up else self.submit_call(call)
                if rec.is_open:
                    rec = self.client.wait_for_decision(
                        rec.id,
                        timeout=max(0.0, deadline - time.monotonic()),
                        poll_interval=self.poll_interval,
                        max_poll_interval=self.max_poll_interval,
                    )
                decided[call.external_id] = rec
            graph.invoke(Command(resume=self.resume_value(interrupts, decided)), config)
            snapshot = graph.get_state(config)
            picked_up = False  # later pauses are new: their calls were never posted

    def start(self, graph: Graph, input: Any, config: RunnableConfig) -> RunResult:
        """Callback mode: invoke the graph, submit what it pauses on, and return at once."""
        graph.invoke(input, config)
        return self._settle(graph, config, resumed=False)

    def _settle(self, graph: Graph, config: RunnableConfig, *, resumed: bool) -> RunResult:
        snapshot = graph.get_state(config)
        interrupts = self.pending_from(snapshot, config)
        if not interrupts:
            return RunResult(done=not snapshot.next, value=snapshot.values, resumed=resumed)
        waiting = [Submitted(c, self.submit_call(c)) for c in self._calls(interrupts)]
        return RunResult(done=False, value=snapshot.values, waiting_on=waiting, resumed=resumed)

    def thread_config(self, event: CallbackEvent | Recommendation | str) -> RunnableConfig:
        """The graph config (thread id) an event's item was submitted from."""
        if isinstance(event, Recommendation):
            rec = event
        else:
            rec_id = event.recommendation_id if isinstance(event, CallbackEvent) else event
            rec = self.client.get(rec_id)
        return self._thread_from(rec)

    def resume_from_decision(
        self,
        graph: Graph,
        config: RunnableConfig | None,
        event: CallbackEvent | Recommendation | str | None = None,
    ) -> RunResult:
        """Callback mode: resume the thread from its checkpointer once every tool call it
        is paused on has been decided; otherwise return `waiting_on` without resuming.

        `config` is the graph config (None: found from the event's item metadata). The
        event is only a nudge: the items are looked up by external_id, so duplicate, late
        or lost callbacks are harmless, and an item missing after a crash is submitted.
        Calls for one thread are serialized within this process; run one consumer per
        thread across processes (the checkpointer is not a lock)."""
        if config is None:
            if event is None:
                raise ValueError("Pass the graph config or the event.")
            config = self.thread_config(event)
        with _thread_lock(_thread_id(config)):
            snapshot = graph.get_state(config)
            interrupts = self.pending_from(snapshot, config)
            if not interrupts:
                return RunResult(done=not snapshot.next, value=snapshot.values)
            decided: dict[str, Recommendation] = {}
            waiting: list[Submitted] = []
            for call in self._calls(interrupts):
                rec = self.ensure_submitted(call)
                if rec.is_open:
                    waiting.append(Submitted(call, rec))
                decided[call.external_id] = rec
            if waiting:
                return RunResult(done=False, value=snapshot.values, waiting_on=waiting)
            graph.invoke(Command(resume=self.resume_value(interrupts, decided)), config)
            return self._settle(graph, config, resumed=True)
