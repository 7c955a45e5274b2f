"""Target-tracking decisions, as Application Auto Scaling makes them from its two CloudWatch alarms.

The high alarm fires when the metric is above the target for ``HIGH_DATAPOINTS`` consecutive periods, the low alarm
when it is below 90 % of the target for ``LOW_DATAPOINTS`` consecutive periods (AWS's defaults: 3 and 15 one-minute
periods). The new capacity is proportional, ``ceil(current * metric / target)``, clamped to [min, max]. A scale-out
waits for the scale-out cooldown since the last scale-out; a scale-in waits for the scale-in cooldown since the last
scale-in and for the scale-out cooldown since the last scale-out, so capacity just added is not taken away at once.
Periods without data leave an alarm without enough data, which never scales (as in AWS, an endpoint that gets no
traffic at all is not scaled in).
"""

import math
from dataclasses import dataclass

HIGH_DATAPOINTS = 3
LOW_DATAPOINTS = 15
LOW_THRESHOLD_RATIO = 0.9

ALARM = "ALARM"
OK = "OK"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class TrackingState:
    """What a decision depends on besides the metric: capacities, bounds, cooldowns and the last activities."""

    current: int
    minimum: int
    maximum: int
    target: float
    scale_out_cooldown: float
    scale_in_cooldown: float
    last_scale_out: float | None = None
    last_scale_in: float | None = None
    scale_in_disabled: bool = False


@dataclass(frozen=True)
class Decision:
    """A capacity change and the alarm that caused it."""

    desired: int
    alarm: str  # "high" or "low"


def alarm_state(datapoints: list[float | None], threshold: float, above: bool, needed: int) -> str:
    """State of an alarm over the newest ``needed`` datapoints (oldest first; None is a period without data)."""
    recent = datapoints[-needed:]
    if len(recent) < needed or any(value is None for value in recent):
        return INSUFFICIENT_DATA
    breaching = all(value > threshold for value in recent) if above else all(value < threshold for value in recent)
    return ALARM if breaching else OK


def high_alarm_state(datapoints: list[float | None], target: float) -> str:
    """The high alarm: above the target for the last HIGH_DATAPOINTS periods."""
    return alarm_state(datapoints, target, above=True, needed=HIGH_DATAPOINTS)


def low_alarm_state(datapoints: list[float | None], target: float) -> str:
    """The low alarm: below 90 % of the target for the last LOW_DATAPOINTS periods."""
    return alarm_state(datapoints, target * LOW_THRESHOLD_RATIO, above=False, needed=LOW_DATAPOINTS)


def decide(datapoints: list[float | None], state: TrackingState, now: float) -> Decision | None:
    """The capacity change target tracking makes now, or None."""
    high = high_alarm_state(datapoints, state.target)
    low = low_alarm_state(datapoints, state.target)
    latest = datapoints[-1] if datapoints else None
    if high == ALARM and latest is not None:
        if state.last_scale_out is not None and now - state.last_scale_out < state.scale_out_cooldown:
            return None
        desired = min(state.maximum, max(state.current + 1, math.ceil(state.current * latest / state.target)))
        return Decision(desired, "high") if desired > state.current else None
    if low == ALARM and latest is not None and not state.scale_in_disabled:
        if state.last_scale_in is not None and now - state.last_scale_in < state.scale_in_cooldown:
            return None
        if state.last_scale_out is not None and now - state.last_scale_out < state.scale_out_cooldown:
            return None
        desired = max(state.minimum, math.ceil(state.current * latest / state.target))
        return Decision(desired, "low") if desired < state.current else None
    return None

