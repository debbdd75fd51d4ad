"""What both adapters share: the pending items, reading interrupts, answering them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.pregel.protocol import PregelProtocol
from langgraph.types import StateSnapshot

from reviewqueue_client._adapters import bounded_external_id, default_reject_message
from reviewqueue_client.models import (
    Evidence,
    ModelInfo,
    NewRecommendation,
    Recommendation,
)

logger = logging.getLogger("reviewqueue_client.langgraph")

# Any compiled LangGraph graph, whatever its state, context, input and output types.
type Graph = PregelProtocol[Any, Any, Any, Any]

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
    return value(call) if callable(value) else value


def _thread_id(config: RunnableConfig) -> str:
    thread_id = (config.get("configurable") or {}).get("thread_id")
    if thread_id is None or thread_id == "":
        raise ValueError("The graph's config needs configurable.thread_id (and a checkpointer).")
    return str(thread_id)


def external_id_for(prefix: str, thread_id: str, interrupt_id: str, tool_call_id: str) -> str:
    """Deterministic: the same pending call always gets the same external_id."""
    return bounded_external_id(prefix, thread_id, interrupt_id, tool_call_id)


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
