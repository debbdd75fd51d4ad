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
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

try:
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.runnables import RunnableConfig
    from langgraph.pregel.protocol import PregelProtocol
    from langgraph.types import Command, StateSnapshot
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "reviewqueue.integrations.langgraph needs LangGraph and LangChain: install the "
        "'langgraph' extra (langgraph, langchain, langchain-core)."
    ) from exc

from reviewqueue.client.aio import AsyncReviewQueueClient
from reviewqueue.client.errors import Conflict
from reviewqueue.client.models import (
    CallbackEvent,
    Evidence,
    ModelInfo,
    NewRecommendation,
    Recommendation,
)
from reviewqueue.client.sync import ReviewQueueClient

__all__ = [
    "AsyncReviewQueueHITL",
    "DecisionNotAllowed",
    "PendingInterrupt",
    "PendingToolCall",
    "ReviewQueueHITL",
    "RunResult",
    "Submitted",
    "UnsupportedInterrupt",
]

logger = logging.getLogger(__name__)

EXTERNAL_ID_MAX = 200  # the API's limit
METADATA_KEY = "langgraph"


class UnsupportedInterrupt(Exception):
    """The graph is paused on an interrupt that is not HumanInTheLoopMiddleware's."""


class DecisionNotAllowed(ValueError):
    """The reviewer's decision maps to an answer this tool's `allowed_decisions` refuse
    (e.g. a modify for a tool configured with `["approve", "reject"]`)."""


@dataclass(frozen=True)
class PendingToolCall:
    """One tool call waiting for a person, and the recommendation it becomes."""

    thread_id: str
    interrupt_id: str
    position: int  # its place among the interrupt's calls (the order of `decisions`)
    tool_call_id: str
    name: str
    args: dict[str, Any]
    description: str  # the middleware's text for the reviewer
    allowed_decisions: tuple[str, ...]  # empty when the interrupt does not say (per_call)
    model_text: str  # what the model wrote alongside the call, if anything
    external_id: str


@dataclass(frozen=True)
class PendingInterrupt:
    id: str
    per_call: bool  # answered with one decision, not {"decisions": [...]}
    calls: tuple[PendingToolCall, ...]


@dataclass(frozen=True)
class Submitted:
    call: PendingToolCall
    recommendation: Recommendation


@dataclass
class RunResult:
    """Where a run stands. `done`: the graph reached its end and `value` is its final
    state; otherwise it is paused and `waiting_on` lists the items still under review."""

    done: bool
    value: Any
    waiting_on: list[Submitted] = field(default_factory=list)
    resumed: bool = False  # resume_from_decision: whether this call resumed the graph


type PerCall[T] = T | Callable[[PendingToolCall], T]


def _per_call[T](value: PerCall[T], call: PendingToolCall) -> T:
    return value(call) if callable(value) else value  # type: ignore[return-value]


def _thread_id(config: RunnableConfig) -> str:
    thread_id = (config.get("configurable") or {}).get("thread_id")
    if thread_id is None or thread_id == "":
        raise ValueError("The graph's config needs configurable.thread_id (and a checkpointer).")
    return str(thread_id)


def external_id_for(prefix: str, thread_id: str, interrupt_id: str, tool_call_id: str) -> str:
    """Deterministic: the same pending call always gets the same external_id."""
    readable = f"{prefix}:{thread_id}:{interrupt_id}:{tool_call_id}"
    if len(readable) <= EXTERNAL_ID_MAX:
        return readable
    return f"{prefix}:sha256:{hashlib.sha256(readable.encode()).hexdigest()}"


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = [
        block if isinstance(block, str) else str(block.get("text", ""))
        for block in content
        if isinstance(block, str) or (isinstance(block, dict) and block.get("type") == "text")
    ]
    return "".join(parts)


def default_reject_message(rec: Recommendation) -> str:
    """`<reason_code>: <comment>`, which the middleware hands to the model as the reason."""
    if rec.decision is None:
        if rec.status == "expired":
            return "expired: the request expired before a reviewer approved it."
        return f"{rec.status}: closed without a decision."
    parts = [p for p in (rec.decision.reason_code, rec.decision.comment) if p]
    return ": ".join(parts) or "rejected by a reviewer"


class _HITLBase:
    def __init__(
        self,
        *,
        queue: str,
        model: ModelInfo | Mapping[str, str] | tuple[str, str],
        action_types: Mapping[str, str] | Callable[[str], str] | None = None,
        confidence: PerCall[float] = 0.5,
        risk_score: PerCall[float] = 0.5,
        rationale: PerCall[str] | None = None,
        evidence: PerCall[Sequence[Evidence]] | None = None,
        prompt_version: str | None = None,
        priority: PerCall[int] | None = None,
        metadata: Mapping[str, Any] | None = None,
        reject_message: Callable[[Recommendation], str] = default_reject_message,
        on_submitted: Callable[[Submitted], None] | None = None,
        external_id_prefix: str = "lg",
        wait_timeout: float = 24 * 3600.0,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
    ) -> None:
        self.queue = queue
        self.model = ModelInfo.coerce(model)
        self.action_types = action_types
        self.confidence = confidence
        self.risk_score = risk_score
        self.rationale = rationale
        self.evidence = evidence
        self.prompt_version = prompt_version
        self.priority = priority
        self.metadata = dict(metadata or {})
        self.reject_message = reject_message
        self.on_submitted = on_submitted
        self.external_id_prefix = external_id_prefix
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

    # -- reading the paused graph ---------------------------------------------------------

    def pending_from(
        self, snapshot: StateSnapshot, config: RunnableConfig
    ) -> list[PendingInterrupt]:
        """The HITL interrupts the thread is paused on, each with its tool calls."""
        thread_id = _thread_id(config)
        values = snapshot.values if isinstance(snapshot.values, dict) else {}
        messages = [m for m in values.get("messages") or [] if isinstance(m, AIMessage)]
        by_call_id = {tc.get("id"): m for m in messages for tc in m.tool_calls if tc.get("id")}
        last_ai = messages[-1] if messages else None
        pending: list[PendingInterrupt] = []
        for intr in snapshot.interrupts:
            value = intr.value
            if isinstance(value, dict) and value.get("type") == "tool_approval":
                call_id = str(value["tool_call_id"])
                source = by_call_id.get(call_id)
                call = self._call(
                    thread_id,
                    intr.id,
                    0,
                    call_id,
                    value,
                    (),
                    _text(source) if source is not None else "",
                )
                pending.append(PendingInterrupt(intr.id, True, (call,)))
            elif isinstance(value, dict) and "action_requests" in value:
                pending.append(self._batched(thread_id, intr.id, value, last_ai))
            else:
                raise UnsupportedInterrupt(
                    f"Interrupt {intr.id} is not a HumanInTheLoopMiddleware request: {value!r}"
                )
        return pending

    def _batched(
        self, thread_id: str, interrupt_id: str, value: Mapping[str, Any], last_ai: AIMessage | None
    ) -> PendingInterrupt:
        requests = list(value["action_requests"])
        configs = list(value.get("review_configs") or [])
        # The requests are the gated calls of the last AI message, in order: match each to
        # the next tool call with the same name and args to learn its id.
        tool_calls = list(last_ai.tool_calls) if last_ai is not None else []
        cursor = 0
        calls = []
        for position, request in enumerate(requests):
            call_id = f"#{position}"
            for i in range(cursor, len(tool_calls)):
                tc = tool_calls[i]
                if tc["name"] == request["name"] and tc["args"] == request["args"]:
                    call_id, cursor = str(tc.get("id") or call_id), i + 1
                    break
            # review_configs line up with action_requests, one each.
            review = configs[position] if position < len(configs) else {}
            allowed = tuple(review.get("allowed_decisions") or ())
            calls.append(
                self._call(
                    thread_id,
                    interrupt_id,
                    position,
                    call_id,
                    request,
                    allowed,
                    _text(last_ai) if last_ai is not None else "",
                )
            )
        return PendingInterrupt(interrupt_id, False, tuple(calls))

    def _call(
        self,
        thread_id: str,
        interrupt_id: str,
        position: int,
        tool_call_id: str,
        request: Mapping[str, Any],
        allowed: tuple[str, ...],
        model_text: str,
    ) -> PendingToolCall:
        return PendingToolCall(
            thread_id=thread_id,
            interrupt_id=interrupt_id,
            position=position,
            tool_call_id=tool_call_id,
            name=str(request["name"]),
            args=dict(request.get("args") or {}),
            description=str(request.get("description") or ""),
            allowed_decisions=allowed,
            model_text=model_text,
            external_id=external_id_for(
                self.external_id_prefix, thread_id, interrupt_id, tool_call_id
            ),
        )

    # -- tool call -> recommendation ------------------------------------------------------

    def action_type_for(self, tool_name: str) -> str:
        mapping = self.action_types
        if callable(mapping):
            return mapping(tool_name)
        if mapping and tool_name in mapping:
            return mapping[tool_name]
        return f"tool.{tool_name}"

    def recommendation_for(self, call: PendingToolCall) -> NewRecommendation:
        """The ingest body for a pending call. Built only from the call and this adapter's
        settings (no clock, no randomness), so a resubmission is an identical replay."""
        rationale = (
            _per_call(self.rationale, call)
            if self.rationale is not None
            else (call.model_text or call.description)
        )
        return NewRecommendation(
            queue=self.queue,
            external_id=call.external_id,
            action_type=self.action_type_for(call.name),
            payload=call.args,
            confidence=_per_call(self.confidence, call),
            risk_score=_per_call(self.risk_score, call),
            model=self.model,
            rationale=rationale,
            evidence=_per_call(self.evidence, call) if self.evidence is not None else None,
            prompt_version=self.prompt_version,
            priority=_per_call(self.priority, call) if self.priority is not None else None,
            metadata={
                **self.metadata,
                METADATA_KEY: {
                    "thread_id": call.thread_id,
                    "interrupt_id": call.interrupt_id,
                    "tool_call_id": call.tool_call_id,
                    "tool": call.name,
                },
            },
        )

    # -- decision -> resume value ---------------------------------------------------------

    def hitl_decision(self, call: PendingToolCall, rec: Recommendation) -> dict[str, Any]:
        """The middleware's answer for a decided item."""
        outcome = rec.decision.outcome if rec.decision is not None else None
        answer: dict[str, Any]
        if outcome == "approve":
            answer = {"type": "approve"}
        elif outcome == "modify":
            assert rec.decision is not None
            args = rec.decision.payload if rec.decision.payload is not None else rec.payload
            answer = {"type": "edit", "edited_action": {"name": call.name, "args": args}}
        else:  # reject, expired, or closed some other way without approval
            answer = {"type": "reject", "message": self.reject_message(rec)}
        if call.allowed_decisions and answer["type"] not in call.allowed_decisions:
            raise DecisionNotAllowed(
                f"Item {rec.id} was decided '{outcome or rec.status}', which maps to "
                f"'{answer['type']}', but tool '{call.name}' allows only "
                f"{list(call.allowed_decisions)}."
            )
        return answer

    def resume_value(
        self, interrupts: Iterable[PendingInterrupt], decided: Mapping[str, Recommendation]
    ) -> dict[str, Any]:
        """`Command(resume=...)` for all pending interrupts: interrupt id -> answer."""
        resume: dict[str, Any] = {}
        for intr in interrupts:
            answers = [self.hitl_decision(c, decided[c.external_id]) for c in intr.calls]
            resume[intr.id] = answers[0] if intr.per_call else {"decisions": answers}
        return resume

    def _notify(self, call: PendingToolCall, rec: Recommendation) -> Recommendation:
        if self.on_submitted is not None:
            self.on_submitted(Submitted(call, rec))
        return rec

    @staticmethod
    def _calls(interrupts: Iterable[PendingInterrupt]) -> list[PendingToolCall]:
        return [c for intr in interrupts for c in intr.calls]

    @staticmethod
    def _thread_from(rec: Recommendation) -> RunnableConfig:
        info = rec.metadata.get(METADATA_KEY) or {}
        if not info.get("thread_id"):
            raise ValueError(f"Item {rec.id} was not submitted by the LangGraph adapter.")
        return {"configurable": {"thread_id": info["thread_id"]}}


# Striped locks: resumes of one thread never overlap within a process, and the number of
# locks stays bounded however many threads pass through.
_STRIPES = 64
_thread_locks = [threading.Lock() for _ in range(_STRIPES)]
_async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _stripe(thread_id: str) -> int:
    return int(hashlib.sha256(thread_id.encode()).hexdigest()[:8], 16) % _STRIPES


def _thread_lock(thread_id: str) -> threading.Lock:
    return _thread_locks[_stripe(thread_id)]


def _async_thread_lock(thread_id: str) -> asyncio.Lock:
    # asyncio locks belong to one event loop.
    loop = asyncio.get_running_loop()
    locks = _async_locks.setdefault(loop, [asyncio.Lock() for _ in range(_STRIPES)])
    return locks[_stripe(thread_id)]


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

    def pending(self, graph: PregelProtocol, config: RunnableConfig) -> list[PendingInterrupt]:
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

    def submit(self, graph: PregelProtocol, config: RunnableConfig) -> list[Submitted]:
        """Submit every tool call the thread is paused on; returns them with their items."""
        return [Submitted(c, self.submit_call(c)) for c in self._calls(self.pending(graph, config))]

    def run_until_done(
        self,
        graph: PregelProtocol,
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
                rec = self.submit_call(call)
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

    def start(self, graph: PregelProtocol, input: Any, config: RunnableConfig) -> RunResult:
        """Callback mode: invoke the graph, submit what it pauses on, and return at once."""
        graph.invoke(input, config)
        return self._settle(graph, config, resumed=False)

    def _settle(self, graph: PregelProtocol, config: RunnableConfig, *, resumed: bool) -> RunResult:
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
        graph: PregelProtocol,
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
                rec = self.client.find_by_external_id(call.external_id) or self.submit_call(call)
                if rec.is_open:
                    waiting.append(Submitted(call, rec))
                decided[call.external_id] = rec
            if waiting:
                return RunResult(done=False, value=snapshot.values, waiting_on=waiting)
            graph.invoke(Command(resume=self.resume_value(interrupts, decided)), config)
            return self._settle(graph, config, resumed=True)


class AsyncReviewQueueHITL(_HITLBase):
    """ReviewQueueHITL for async code: the same methods, awaited (graph.ainvoke)."""

    def __init__(self, client: AsyncReviewQueueClient, queue: str, **options: Any) -> None:
        super().__init__(queue=queue, **options)
        self.client = client

    async def pending(
        self, graph: PregelProtocol, config: RunnableConfig
    ) -> list[PendingInterrupt]:
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

    async def submit(self, graph: PregelProtocol, config: RunnableConfig) -> list[Submitted]:
        calls = self._calls(await self.pending(graph, config))
        return [Submitted(c, await self.submit_call(c)) for c in calls]

    async def run_until_done(
        self,
        graph: PregelProtocol,
        input: Any,
        config: RunnableConfig,
        *,
        timeout: float | None = None,
    ) -> Any:
        budget = self.wait_timeout if timeout is None else timeout
        snapshot = await graph.aget_state(config)
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

    async def start(self, graph: PregelProtocol, input: Any, config: RunnableConfig) -> RunResult:
        await graph.ainvoke(input, config)
        return await self._settle(graph, config, resumed=False)

    async def _settle(
        self, graph: PregelProtocol, config: RunnableConfig, *, resumed: bool
    ) -> RunResult:
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
        graph: PregelProtocol,
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
                rec = await self.client.find_by_external_id(
                    call.external_id
                ) or await self.submit_call(call)
                if rec.is_open:
                    waiting.append(Submitted(call, rec))
                decided[call.external_id] = rec
            if waiting:
                return RunResult(done=False, value=snapshot.values, waiting_on=waiting)
            await graph.ainvoke(Command(resume=self.resume_value(interrupts, decided)), config)
            return await self._settle(graph, config, resumed=True)
