"""Readiness for the next stage: the gates of the stages table in ../shared/docs/product.md,
judged on evidence.
Pure: the evidence is gathered by reporting/readiness.py; nothing here reads the
database or changes anything. Nothing moves a queue up by itself: this recommends, with the
numbers behind each gate, and an admin decides.

Defaults (each overridable per queue in Queue.readiness):

Which days a gate looks at is said with it (`Gate.window`, and in its label): the day-based
gates read the last N *full* UTC days, today excluded, so a number does not move while you
read it; the incidents gate also counts today, so a fresh incident is never hidden. A gate
without data is "no data yet", never met. One set of words for the status (`STATUS_LABELS`)
and one number format (percentages) wherever readiness is shown.

- shadow -> approval: AI/human agreement >= `shadow_min_agreement` (0.85) over the last
  `shadow_window` (200) compared items. A compared item is a shadow item whose human outcome
  is known (reported by the source, or a blind review); it agrees when people approved it, or
  modified it with a cosmetic-only diff. Fewer compared items than the window: unmet.
- approval -> supervised: the approval rate (approved unchanged / human decisions) is at least
  `approval_min_rate` (0.95) on each of the last `approval_days` (30) whole UTC days (a day
  without decisions does not count as met); modifications are mostly cosmetic (a share of at
  least `approval_min_cosmetic_share`, 0.5, over the same days; no modifications: no data
  yet); zero high-severity incidents (models/incidents.py) reported in those days or today.
- supervised -> autonomous: the auto-execution error rate (auto-executed items whose
  execution failed, dead or refused, or that QA marked incorrect / auto-executed items) is
  below `supervised_max_error_rate` (0.001) over the last `supervised_days` (90) full days,
  with auto-execution running for all of them; no manual interventions (retried executions,
  resumed breakers) in that time (no auto-executed items: no data yet).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from reviewqueue.states import Stage

DEFAULTS: dict[str, float | int] = {
    "shadow_min_agreement": 0.85,
    "shadow_window": 200,
    "approval_min_rate": 0.95,
    "approval_days": 30,
    "approval_min_cosmetic_share": 0.5,
    "supervised_max_error_rate": 0.001,
    "supervised_days": 90,
}
COUNT_RANGES = {
    "shadow_window": (1, 100_000),
    "approval_days": (1, 366),
    "supervised_days": (1, 730),
}
NEXT_STAGE = {
    Stage.SHADOW: Stage.APPROVAL,
    Stage.APPROVAL: Stage.SUPERVISED,
    Stage.SUPERVISED: Stage.AUTONOMOUS,
}

MET, UNMET, NO_DATA = "met", "unmet", "no_data"
# The words for a status, the same on the queue page, /reports/, the API and readiness.csv.
STATUS_LABELS = {MET: "met", UNMET: "not met", NO_DATA: "no data yet"}


def readiness_config(overrides: Mapping[str, Any] | None) -> dict[str, float | int]:
    """The defaults with a queue's overrides. Values of the wrong type or out of range are
    ignored (the default applies) rather than making a gate meaningless."""
    config = dict(DEFAULTS)
    for key, value in (overrides or {}).items():
        if key not in DEFAULTS or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if key in COUNT_RANGES:
            low, high = COUNT_RANGES[key]
            if isinstance(value, int) and low <= value <= high:
                config[key] = value
        elif 0 <= value <= 1:
            config[key] = float(value)
    return config


@dataclass(frozen=True)
class Gate:
    key: str
    label: str  # the rule, with this queue's thresholds
    status: str  # met | unmet | no_data
    evidence: str  # the numbers behind it, in a sentence
    numbers: dict[str, Any] = field(default_factory=dict)
    window: str = ""  # which days or items it looks at, with dates where there are dates

    @property
    def met(self) -> bool:
        return self.status == MET

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class Readiness:
    stage: str
    next_stage: str | None
    gates: list[Gate]

    @property
    def ready(self) -> bool:
        return self.next_stage is not None and all(g.met for g in self.gates)

    @property
    def summary(self) -> str:
        if self.next_stage is None:
            return "Autonomous is the last stage."
        if self.ready:
            return f"Every gate is met: ready to move to {self.next_stage} when an admin decides."
        unmet = sum(1 for g in self.gates if g.status == UNMET)
        no_data = sum(1 for g in self.gates if g.status == NO_DATA)
        parts = []
        if unmet:
            parts.append(f"{unmet} of {len(self.gates)} gates unmet")
        if no_data:
            parts.append(f"{no_data} without data yet")
        return f"Not ready for {self.next_stage}: " + " and ".join(parts) + "."


def pct(value: float) -> str:
    """A rate as a percentage, the one number format readiness uses in words."""
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def full_days_window(first: date | None, last: date | None, n: int) -> str:
    """The days a day-based gate looks at, in words."""
    if first is None or last is None:
        return f"last {n} full days (UTC), today excluded"
    return f"last {n} full days (UTC), {first.isoformat()} to {last.isoformat()}, today excluded"


# --- Evidence -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShadowEvidence:
    agreed: int  # of the last `compared` compared items (at most the window)
    compared: int


@dataclass(frozen=True)
class Day:
    day: date
    decisions: int
    approved: int


@dataclass(frozen=True)
class ApprovalEvidence:
    days: Sequence[Day]  # the last `approval_days` whole days, oldest first
    modified: int
    cosmetic: int
    incidents: int | None = None  # high-severity, in those days and today; None: not read


@dataclass(frozen=True)
class SupervisedEvidence:
    auto_executed: int
    failed: int  # execution dead or refused
    qa_rejected: int | None  # marked incorrect in QA; None: QA verdicts unavailable
    first_auto_at: datetime | None  # the queue's first auto-executed item ever
    window_start: datetime
    interventions: int  # manual interventions (retries, breaker resumes) in the window
    qa_reviewed: int | None = None  # items with a QA verdict
    errors: int | None = None  # items failed or marked incorrect, each counted once
    window_end: datetime | None = None  # exclusive: the start of today (UTC)


# --- Gates ------------------------------------------------------------------------------------------


def shadow_agreement_gate(config: Mapping[str, Any], e: ShadowEvidence) -> Gate:
    floor, window = config["shadow_min_agreement"], int(config["shadow_window"])
    label = f"AI/human agreement ≥ {pct(floor)} over the last {window} compared items"
    numbers = {"agreed": e.agreed, "compared": e.compared, "window": window, "threshold": floor}
    span = f"the latest {window} compared items, whatever their day, today included"
    if e.compared == 0:
        return Gate("shadow_agreement", label, NO_DATA, "No compared items yet.", numbers, span)
    rate = e.agreed / e.compared
    numbers["rate"] = round(rate, 4)
    text = f"{e.agreed} of {e.compared} compared items agreed ({pct(rate)})"
    if e.compared < window:
        return Gate(
            "shadow_agreement",
            label,
            UNMET,
            f"{text}; only {e.compared} of the {window} compared items needed so far.",
            numbers,
            span,
        )
    status = MET if rate >= floor else UNMET
    return Gate("shadow_agreement", label, status, text + ".", numbers, span)


def approval_rate_gate(config: Mapping[str, Any], days: Sequence[Day]) -> Gate:
    floor, needed = config["approval_min_rate"], int(config["approval_days"])
    label = f"Approval rate ≥ {pct(floor)} on each of the last {needed} full days, today excluded"
    span = full_days_window(days[0].day if days else None, days[-1].day if days else None, needed)
    with_data = [d for d in days if d.decisions]
    met = [d for d in with_data if d.approved / d.decisions >= floor]
    empty = len(days) - len(with_data)
    numbers: dict[str, Any] = {
        "days": len(days),
        "days_met": len(met),
        "days_without_decisions": empty,
        "threshold": floor,
    }
    if not with_data:
        return Gate(
            "approval_rate",
            label,
            NO_DATA,
            f"No decisions in the last {needed} full days.",
            numbers,
            span,
        )
    lowest = min(with_data, key=lambda d: (d.approved / d.decisions, d.day))
    low_rate = lowest.approved / lowest.decisions
    numbers.update(lowest_rate=round(low_rate, 4), lowest_day=lowest.day.isoformat())
    text = f"{len(met)} of {len(days)} days met"
    if empty:
        text += f"; {empty} day{'s' if empty != 1 else ''} without decisions"
    text += f"; lowest {pct(low_rate)} on {lowest.day.isoformat()}."
    status = MET if len(met) == len(days) == needed else UNMET
    return Gate("approval_rate", label, status, text, numbers, span)


def cosmetic_gate(config: Mapping[str, Any], modified: int, cosmetic: int, span: str = "") -> Gate:
    floor, n = config["approval_min_cosmetic_share"], int(config["approval_days"])
    label = (
        f"Modifications mostly cosmetic (≥ {pct(floor)} of modifications)"
        f" over the last {n} full days, today excluded"
    )
    span = span or full_days_window(None, None, n)
    numbers = {"modified": modified, "cosmetic": cosmetic, "threshold": floor}
    if modified == 0:
        # Nothing to judge is not the same as good: no data, never met.
        return Gate(
            "cosmetic_modifications",
            label,
            NO_DATA,
            f"No modifications in the last {n} full days, so nothing to judge yet.",
            numbers,
            span,
        )
    share = cosmetic / modified
    numbers["share"] = round(share, 4)
    text = f"{pct(share)} of modifications cosmetic ({cosmetic} of {modified})."
    status = MET if share >= floor else UNMET
    return Gate("cosmetic_modifications", label, status, text, numbers, span)


def incidents_gate(config: Mapping[str, Any], incidents: int | None, span: str = "") -> Gate:
    n = int(config["approval_days"])
    label = f"Zero high-severity incidents in the last {n} full days and today"
    span = span or f"last {n} full days (UTC) and today"
    if incidents is None:
        return Gate("incidents", label, NO_DATA, "No data yet: incidents were not read.", {}, span)
    text = (
        "No high-severity incidents recorded."
        if incidents == 0
        else f"{incidents} high-severity incident{'s' if incidents != 1 else ''} recorded"
        " (resolved ones count too)."
    )
    return Gate(
        "incidents", label, MET if incidents == 0 else UNMET, text, {"incidents": incidents}, span
    )


def error_rate_gate(config: Mapping[str, Any], e: SupervisedEvidence) -> Gate:
    ceiling, days = config["supervised_max_error_rate"], int(config["supervised_days"])
    label = f"Auto-execution error rate < {pct(ceiling)} over the last {days} full days"
    span = supervised_window(e, days)
    numbers: dict[str, Any] = {
        "auto_executed": e.auto_executed,
        "failed": e.failed,
        "qa_rejected": e.qa_rejected,
        "threshold": ceiling,
    }
    if e.qa_rejected is None:
        qa = "QA verdicts: no data yet, so only execution failures are counted"
    elif not e.qa_reviewed:
        qa = "no QA verdicts on them yet, so only execution failures are counted"
    else:
        qa = f"QA: {e.qa_rejected} of {e.qa_reviewed} reviewed items marked incorrect"
    numbers["qa_reviewed"] = e.qa_reviewed
    if e.auto_executed == 0:
        return Gate(
            "auto_error_rate",
            label,
            NO_DATA,
            f"No auto-executed items in the last {days} full days.",
            numbers,
            span,
        )
    errors = e.errors if e.errors is not None else e.failed + (e.qa_rejected or 0)
    numbers["errors"] = errors
    rate = errors / e.auto_executed
    numbers["rate"] = round(rate, 6)
    covered = e.first_auto_at is not None and e.first_auto_at <= e.window_start
    text = (
        f"{errors} of {e.auto_executed} auto-executed items failed or were marked incorrect"
        f" ({pct(rate)}); {qa}"
    )
    if not covered:
        since = e.first_auto_at.date().isoformat() if e.first_auto_at else "never"
        text += f"; auto-executing only since {since}, not yet {days} days"
    status = MET if covered and rate < ceiling else UNMET
    return Gate("auto_error_rate", label, status, text + ".", numbers, span)


def supervised_window(e: SupervisedEvidence, days: int) -> str:
    if e.window_end is None:
        return f"last {days} full days (UTC), today excluded"
    last = (e.window_end - timedelta(days=1)).date()
    return full_days_window(e.window_start.date(), last, days)


def interventions_gate(
    config: Mapping[str, Any],
    interventions: int,
    auto_executed: int | None = None,
    span: str = "",
) -> Gate:
    """`auto_executed` 0: nothing ran unattended in the window, so "no interventions" would
    say nothing: no data yet."""
    days = int(config["supervised_days"])
    label = f"No manual interventions over the last {days} full days"
    span = span or f"last {days} full days (UTC), today excluded"
    numbers = {"interventions": interventions}
    if auto_executed == 0 and interventions == 0:
        text = f"No auto-executed items in the last {days} full days, so nothing to judge yet."
        return Gate("interventions", label, NO_DATA, text, numbers, span)
    text = (
        "None: no retried executions or resumed breakers."
        if interventions == 0
        else f"{interventions} manual interventions (retried executions, resumed breakers)."
    )
    status = MET if interventions == 0 else UNMET
    return Gate("interventions", label, status, text, numbers, span)


def readiness_evaluate(
    *,
    stage: str,
    config: Mapping[str, Any],
    shadow: ShadowEvidence | None = None,
    approval: ApprovalEvidence | None = None,
    supervised: SupervisedEvidence | None = None,
) -> Readiness:
    """The gates between `stage` and the next one, judged on the evidence given for it."""
    next_stage = NEXT_STAGE.get(Stage(stage))
    gates: list[Gate] = []
    if stage == Stage.SHADOW:
        gates = [shadow_agreement_gate(config, shadow or ShadowEvidence(0, 0))]
    elif stage == Stage.APPROVAL:
        e = approval or ApprovalEvidence(days=[], modified=0, cosmetic=0)
        n = int(config["approval_days"])
        first, last = (e.days[0].day, e.days[-1].day) if e.days else (None, None)
        span = full_days_window(first, last, n)
        today = f"{span.removesuffix(', today excluded')} and today"
        gates = [
            approval_rate_gate(config, e.days),
            cosmetic_gate(config, e.modified, e.cosmetic, span),
            incidents_gate(config, e.incidents, today),
        ]
    elif stage == Stage.SUPERVISED and supervised is not None:
        span = supervised_window(supervised, int(config["supervised_days"]))
        gates = [
            error_rate_gate(config, supervised),
            interventions_gate(config, supervised.interventions, supervised.auto_executed, span),
        ]
    return Readiness(stage=stage, next_stage=next_stage.value if next_stage else None, gates=gates)
