"""Anomaly flags: why an item of a supervised or autonomous queue waits for people although
its thresholds would have let it execute. Pure: ingest reads the inputs (the baselines with
the routing state, selectors/targets.routing_lock; the source's recent volume from its
counter, services/ratelimit.volume_count) and passes them in.

- `risk_ceiling`: risk at or above the queue's `hard_risk_ceiling` (escalated);
- `confidence_floor`: confidence below `hard_confidence_floor`;
- `outlier`: a configured numeric payload field more than `z` standard deviations from the
  mean of that action type's last `window` values in the queue (AnomalyBaseline, refreshed
  by services/anomaly.py); a field that is missing or not a number is not an outlier;
- `volume`: this item makes the source's items in the queue over the last 5 minutes more
  than `max_per_5min` (a sliding counter in 10-second steps, services/ratelimit.volume_count:
  no scan of the source's items).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reviewqueue.models import Queue
from reviewqueue.states import FlagKind, Stage

SIGMA = "\u03c3"  # the standard deviation sign in the flags' sentences

ANOMALY_DEFAULT_Z = 4.0
ANOMALY_DEFAULT_WINDOW = 1000
ANOMALY_MAX_WINDOW = 100_000
# Fewer numeric values than this in the window: too little history to call anything an outlier.
ANOMALY_MIN_HISTORY = 10
VOLUME_SECONDS = 300

Flag = dict[str, str]  # {"kind": FlagKind, "detail": "a sentence"}


@dataclass(frozen=True)
class Anomaly:
    fields: tuple[str, ...]
    z: float
    window: int


@dataclass(frozen=True)
class Baseline:
    count: int
    mean: float | None
    stddev: float | None


def anomaly_of(queue: Queue) -> Anomaly | None:
    """The queue's outlier settings with their defaults, or None when it has none."""
    config = queue.anomaly if isinstance(queue.anomaly, dict) else {}
    fields = tuple(f for f in config.get("fields", []) if isinstance(f, str))
    if not fields:
        return None
    return Anomaly(
        fields=fields,
        z=float(config.get("z", ANOMALY_DEFAULT_Z)),
        window=int(config.get("window", ANOMALY_DEFAULT_WINDOW)),
    )


def flags_apply(stage: Stage) -> bool:
    """Flags are raised in the stages where items execute without a person (by the stage the
    queue routes by now: a tripped breaker routes everything to review anyway)."""
    return stage in (Stage.SUPERVISED, Stage.AUTONOMOUS)


def number(value: float | int) -> str:
    """9500.0 -> '9,500'; 12.3456 -> '12.35'; grouped, at most two decimals."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def _outlier(
    name: str, value: Any, baseline: Baseline | None, anomaly: Anomaly, action: str
) -> Flag | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None  # missing, not a number: not an outlier
    if baseline is None or baseline.mean is None or baseline.count < ANOMALY_MIN_HISTORY:
        return None
    history = f"the last {number(baseline.count)} {action}"
    mean, sd = baseline.mean, baseline.stddev or 0.0
    if sd == 0.0:
        if value == mean:
            return None
        return {
            "kind": FlagKind.OUTLIER,
            "detail": f"{name} {number(value)} differs from {history}, which were all "
            f"{number(mean)}",
        }
    score = (value - mean) / sd
    if abs(score) <= anomaly.z:
        return None
    side = "above" if score > 0 else "below"
    return {
        "kind": FlagKind.OUTLIER,
        "detail": f"{name} {number(value)} is {abs(score):.1f} {SIGMA} {side} {history} "
        f"(mean {number(mean)}, limit {anomaly.z:g} {SIGMA})",
    }


def flags_for(
    *,
    queue: Queue,
    action: str,
    confidence: float,
    risk: float,
    payload: Any,
    baselines: Mapping[str, Baseline],
    recent: int | None,
    source: str,
) -> list[Flag]:
    """The flags of one arriving item of `queue` (its routing state as read in the ingest's
    transaction). `baselines` by field name; `recent` is the source's items in this queue in
    the last 5 minutes, this one included (None when max_per_5min is not set)."""
    flags: list[Flag] = []
    ceiling, floor = queue.hard_risk_ceiling, queue.hard_confidence_floor
    if ceiling is not None and risk >= ceiling:
        flags.append(
            {
                "kind": FlagKind.RISK_CEILING,
                "detail": f"risk {risk:.2f} is at or above the queue's hard ceiling {ceiling:.2f}",
            }
        )
    if floor is not None and confidence < floor:
        flags.append(
            {
                "kind": FlagKind.CONFIDENCE_FLOOR,
                "detail": f"confidence {confidence:.2f} is below the queue's floor {floor:.2f}",
            }
        )
    anomaly = anomaly_of(queue)
    if anomaly is not None and isinstance(payload, dict):
        for name in anomaly.fields:
            flag = _outlier(name, payload.get(name), baselines.get(name), anomaly, action)
            if flag is not None:
                flags.append(flag)
    limit = queue.max_per_5min
    if limit is not None and recent is not None and recent > limit:
        flags.append(
            {
                "kind": FlagKind.VOLUME,
                "detail": f"source '{source}' sent {number(recent)} items to this queue in the "
                f"last 5 minutes, more than max_per_5min {number(limit)}",
            }
        )
    return flags
