"""What the sync and async adapters share: the pending approvals, their recommendations, and
how a decision is applied to the run state."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents import FunctionTool, RunResult, RunState, ToolApprovalItem
from agents.tool_context import ToolContext

from reviewqueue_client._adapters import bounded_external_id, default_reject_message
from reviewqueue_client.models import Evidence, ModelInfo, NewRecommendation, Recommendation

logger = logging.getLogger("reviewqueue_client.openai_agents")

METADATA_KEY = "openai_agents"


class DecisionNotAllowed(ValueError):
    """A reviewer modified a call to a tool that was not wrapped with `approvals.tool(...)`,
    so it cannot run with the reviewer's arguments."""


@dataclass(frozen=True)
class PendingApproval:
    """One tool call the run is paused on (a `needs_approval` tool), and its recommendation."""

    run_id: str
    call_id: str
    name: str
    args: dict[str, Any]
    agent: str
    external_id: str
    item: ToolApprovalItem = field(repr=False, compare=False)


@dataclass(frozen=True)
class Submitted:
    approval: PendingApproval
    recommendation: Recommendation


@dataclass
class RunOutcome:
    """Where a run stands. `done`: it reached a final output (`result.final_output`).
    Otherwise it is paused: `state` is the serialised RunState to keep (replace any older
    copy with it) and hand to `resume` later, and `waiting_on` lists the items under review."""

    done: bool
    result: RunResult | None
    state: str | None = None
    waiting_on: list[Submitted] = field(default_factory=list)
    resumed: bool = False  # resume: whether this call ran the agent again

    @property
    def final_output(self) -> Any:
        return self.result.final_output if self.done and self.result is not None else None


type PerCall[T] = T | Callable[[PendingApproval], T]


def _per_call[T](value: PerCall[T], approval: PendingApproval) -> T:
    return value(approval) if callable(value) else value


def _raw(item: ToolApprovalItem, key: str) -> Any:
    raw = item.raw_item
    return raw.get(key) if isinstance(raw, dict) else getattr(raw, key, None)


def _arguments(item: ToolApprovalItem) -> dict[str, Any]:
    text = _raw(item, "arguments")
    if text is None:
        return {}
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {"arguments": text}
    return dict(value) if isinstance(value, dict) else {"arguments": value}


class _ApprovalsBase:
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
        external_id_prefix: str = "oa",
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
        # Tools wrapped by `tool()`, and the reviewer's arguments for approved calls that are
        # about to run (call id -> JSON), set by `apply` just before the run continues.
        self._gated: set[str] = set()
        self._edited: dict[str, str] = {}

    # -- tools --------------------------------------------------------------------------

    def tool(self, tool: FunctionTool) -> FunctionTool:
        """The tool, gated: it needs approval (unless it already decides that itself with a
        `needs_approval` function), and when a reviewer modified a call it runs with the
        reviewer's arguments, validated by the tool's own schema."""
        original = tool.on_invoke_tool
        edited = self._edited

        async def invoke(ctx: ToolContext[Any], arguments: str) -> Any:
            return await original(ctx, edited.pop(ctx.tool_call_id, arguments))

        self._gated.add(tool.name)
        needs_approval = tool.needs_approval if tool.needs_approval is not False else True
        return dataclasses.replace(tool, on_invoke_tool=invoke, needs_approval=needs_approval)

    def tools(self, tools: Iterable[FunctionTool]) -> list[FunctionTool]:
        return [self.tool(t) for t in tools]

    # -- reading the paused run ---------------------------------------------------------

    def pending_from(
        self, interruptions: Iterable[ToolApprovalItem], run_id: str
    ) -> list[PendingApproval]:
        """The approvals a run (its result's or its state's interruptions) is paused on."""
        if not run_id:
            raise ValueError("Pass run_id: a stable id of this run (a ticket, a conversation).")
        pending = []
        for position, item in enumerate(interruptions):
            call_id = str(_raw(item, "call_id") or _raw(item, "id") or f"#{position}")
            name = str(item.tool_name or _raw(item, "name") or "tool")
            pending.append(
                PendingApproval(
                    run_id=run_id,
                    call_id=call_id,
                    name=name,
                    args=_arguments(item),
                    agent=item.agent.name,
                    external_id=bounded_external_id(self.external_id_prefix, run_id, call_id),
                    item=item,
                )
            )
        return pending

    # -- approval -> recommendation -----------------------------------------------------

    def action_type_for(self, tool_name: str) -> str:
        mapping = self.action_types
        if callable(mapping):
            return mapping(tool_name)
        if mapping and tool_name in mapping:
            return mapping[tool_name]
        return f"tool.{tool_name}"

    def recommendation_for(self, approval: PendingApproval) -> NewRecommendation:
        """The ingest body for a pending call, built only from the call and these settings
        (no clock, no randomness), so a resubmission is an identical replay."""
        rationale = (
            _per_call(self.rationale, approval)
            if self.rationale is not None
            else f"Agent '{approval.agent}' asks to call {approval.name}."
        )
        return NewRecommendation(
            queue=self.queue,
            external_id=approval.external_id,
            action_type=self.action_type_for(approval.name),
            payload=approval.args,
            confidence=_per_call(self.confidence, approval),
            risk_score=_per_call(self.risk_score, approval),
            model=self.model,
            rationale=rationale,
            evidence=_per_call(self.evidence, approval) if self.evidence is not None else None,
            prompt_version=self.prompt_version,
            priority=_per_call(self.priority, approval) if self.priority is not None else None,
            metadata={
                **self.metadata,
                METADATA_KEY: {
                    "run_id": approval.run_id,
                    "call_id": approval.call_id,
                    "tool": approval.name,
                    "agent": approval.agent,
                },
            },
        )

    # -- decision -> run state ----------------------------------------------------------

    def apply(
        self,
        state: RunState[Any, Any],
        decided: Iterable[tuple[PendingApproval, Recommendation]],
    ) -> None:
        """Approve or reject each call on the run state, as its reviewer decided: approve
        (and auto-approved) runs the call as proposed, modify runs it with the reviewer's
        arguments, anything else (reject, expired) refuses it with the reason as the
        tool's result, which the model reads."""
        for approval, rec in decided:
            outcome = rec.decision.outcome if rec.decision is not None else None
            if rec.status == "auto_approved" or outcome == "approve":
                state.approve(approval.item)
            elif outcome == "modify":
                assert rec.decision is not None
                if approval.name not in self._gated:
                    raise DecisionNotAllowed(
                        f"Item {rec.id} was modified, but tool '{approval.name}' was not wrapped "
                        "with approvals.tool(), so it cannot run with the reviewer's arguments."
                    )
                args = rec.decision.payload if rec.decision.payload is not None else rec.payload
                self._edited[approval.call_id] = json.dumps(args)
                state.approve(approval.item)
            else:
                state.reject(approval.item, rejection_message=self.reject_message(rec))

    def _notify(self, approval: PendingApproval, rec: Recommendation) -> Recommendation:
        if self.on_submitted is not None:
            self.on_submitted(Submitted(approval, rec))
        return rec

    @staticmethod
    def run_id_from(rec: Recommendation) -> str:
        """The run id an item was submitted for (from its metadata)."""
        info = rec.metadata.get(METADATA_KEY) or {}
        if not info.get("run_id"):
            raise ValueError(f"Item {rec.id} was not submitted by the OpenAI Agents adapter.")
        return str(info["run_id"])
