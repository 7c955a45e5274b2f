"""Target-tracking decisions: alarms over consecutive periods, proportional capacity, bounds and cooldowns."""

from __future__ import annotations

from local_aws.applicationautoscaling.target_tracking import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    Decision,
    TrackingState,
    alarm_state,
    decide,
)


def state(**overrides) -> TrackingState:
    values = dict(current=1, minimum=1, maximum=3, target=10.0, scale_out_cooldown=30, scale_in_cooldown=30)
    values.update(overrides)
    return TrackingState(**values)


def test_an_alarm_needs_every_recent_datapoint_breaching():
    assert alarm_state([5, 12, 12, 12], 10, above=True, needed=3) == ALARM
    assert alarm_state([12, 12, 9, 12], 10, above=True, needed=3) == OK
    assert alarm_state([12, None, 12], 10, above=True, needed=3) == INSUFFICIENT_DATA
    assert alarm_state([12, 12], 10, above=True, needed=3) == INSUFFICIENT_DATA


def test_scale_out_is_proportional_to_the_metric_and_capped_at_the_maximum():
    assert decide([25.0] * 15, state(), now=0) == Decision(3, "high")
    assert decide([15.0] * 15, state(), now=0) == Decision(2, "high")
    assert decide([90.0] * 15, state(current=2), now=0) == Decision(3, "high")
    assert decide([90.0] * 15, state(current=3), now=0) is None


def test_scale_in_waits_for_fifteen_low_periods_and_stops_at_the_minimum():
    low_for_fourteen = [12.0] + [1.0] * 14
    assert decide(low_for_fourteen, state(current=3), now=0) is None
    assert decide([1.0] * 15, state(current=3), now=0) == Decision(1, "low")
    assert decide([8.0] * 15, state(current=3), now=0) is None  # ceil(3 * 0.8) = 3: nothing to remove


def test_no_data_never_scales_in():
    assert decide([None] * 15, state(current=3), now=0) is None


def test_scale_out_waits_for_the_scale_out_cooldown():
    busy = [50.0] * 15
    assert decide(busy, state(current=2, last_scale_out=100.0), now=129.0) is None
    assert decide(busy, state(current=2, last_scale_out=100.0), now=130.0) == Decision(3, "high")


def test_scale_in_waits_for_both_cooldowns():
    quiet = [0.5] * 15
    assert decide(quiet, state(current=3, last_scale_in=100.0), now=120.0) is None
    assert decide(quiet, state(current=3, last_scale_out=100.0), now=120.0) is None
    assert decide(quiet, state(current=3, last_scale_in=100.0, last_scale_out=90.0), now=130.0) == Decision(1, "low")


def test_disabled_scale_in_never_removes_capacity():
    assert decide([0.5] * 15, state(current=3, scale_in_disabled=True), now=0) is None
