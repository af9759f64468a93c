"""The device-state policy (warm / watch / sleep) and the lifetime budget, without ROS."""

from __future__ import annotations

import dataclasses
import math

import pytest

from wildcam.errors import ConfigError
from wildcam.params import build_config, param_specs
from wildcam.power.profile import load_profile
from wildcam.power.states import (
    DEVICE_STATES,
    LifetimeBudget,
    Schedule,
    StateConfig,
    StateInputs,
    StatePolicy,
    capabilities,
    parse_schedule,
)

H = 3600.0
DAY = 86400.0
MCU = capabilities(load_profile("pizero2w_mcu").states)  # RTC + PIR wake from power cut
PI5 = capabilities(load_profile("rpi5").states)  # RTC wake, PIR only in watch


def _at(day: int, hour: float) -> float:
    return day * DAY + hour * H


def test_schedule_windows_across_midnight() -> None:
    sched = Schedule(parse_schedule("18:00-07:00, 12:00-13:30"))
    assert [sched.active(_at(0, h)) for h in (17.9, 18.0, 23.5, 0.5, 6.99, 7.0, 12.5, 13.6)] == [
        False,
        True,
        True,
        True,
        True,
        False,
        True,
        False,
    ]
    assert sched.next_start_s(_at(0, 8.0)) == pytest.approx(_at(0, 12.0))
    assert sched.next_start_s(_at(0, 14.0)) == pytest.approx(_at(0, 18.0))
    assert sched.next_start_s(_at(0, 19.0)) == pytest.approx(_at(1, 12.0))
    assert sched.next_boundary_s(_at(0, 19.0)) == pytest.approx(_at(1, 7.0))
    # local time: the same window two hours east of UTC starts at 16:00 UTC
    east = Schedule(parse_schedule("18:00-07:00"), utc_offset_h=2.0)
    assert east.active(_at(0, 16.5)) and not east.active(_at(0, 15.5))
    always = Schedule(parse_schedule(""))
    assert always.active(_at(0, 3.0)) and always.next_start_s(0.0) is None


@pytest.mark.parametrize(
    "text", ["18:00-", "25:00-01:00", "07:00-07:00", "a-b", "10:75-11:00", "18-07"]
)
def test_bad_schedules_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="schedule"):
        StateConfig(schedule=text)


def test_config_is_declared_as_parameters_with_ranges() -> None:
    names = {s.name for s in param_specs(StateConfig)}
    assert {
        "schedule",
        "utc_offset_h",
        "target_days",
        "service_date",
        "warm_hold_s",
        "watch_enabled",
        "idle_state",
        "over_budget_state",
        "outside_state",
    } <= names
    with pytest.raises(ConfigError, match="warm_hold_s"):
        build_config(StateConfig, {"warm_hold_s": -1.0})
    with pytest.raises(ConfigError, match="service_date"):
        StateConfig(service_date="next spring")
    assert StateConfig(service_date="1970-01-11", utc_offset_h=1.0).target_s(0.0) == pytest.approx(
        10 * DAY - H
    )
    assert StateConfig(target_days=30).target_s(100.0) == pytest.approx(100.0 + 30 * DAY)
    assert StateConfig().target_s(0.0) is None


def test_sleeps_outside_windows_and_wakes_at_the_next_window_start() -> None:
    policy = StatePolicy(StateConfig(schedule="18:00-07:00"), _at(0, 17.0))
    d = policy.update(_at(0, 17.0), StateInputs(**PI5))
    assert d.state == "sleep" and d.changed and "outside" in d.reason
    assert d.wake_at_s == pytest.approx(_at(0, 18.0))  # sooner than the hourly check
    early = policy.update(_at(0, 8.0), StateInputs(**PI5))
    assert early.wake_at_s == pytest.approx(_at(0, 18.0))
    hourly = StatePolicy(StateConfig(schedule="18:00-07:00", check_period_s=H), _at(0, 8.0))
    early = hourly.update(_at(0, 8.0), StateInputs(**PI5))
    assert early.wake_at_s == pytest.approx(_at(0, 9.0))  # at most check_period_s ahead
    d = policy.update(_at(0, 18.0), StateInputs(**PI5))
    assert d.state == "warm" and d.changed and d.wake_at_s is None


def test_trigger_in_watch_goes_warm_then_back_after_the_hold() -> None:
    policy = StatePolicy(StateConfig(idle_state="watch", warm_hold_s=60.0))
    caps = capabilities(load_profile("rpi4b").states)
    assert policy.update(0.0, StateInputs(**caps)).state == "watch"
    d = policy.update(100.0, StateInputs(last_trigger_s=100.0, **caps))
    assert d.state == "warm" and d.changed and "trigger" in d.reason
    assert policy.update(150.0, StateInputs(last_trigger_s=100.0, **caps)).state == "warm"
    # motion keeps it warm as a trigger does
    assert (
        policy.update(170.0, StateInputs(last_trigger_s=100.0, last_motion_s=165.0, **caps)).state
        == "warm"
    )
    d = policy.update(226.0, StateInputs(last_trigger_s=100.0, last_motion_s=165.0, **caps))
    assert d.state == "watch" and d.changed and d.since_s == 226.0


def test_lifetime_target_pushes_warm_to_watch_and_back_with_hysteresis() -> None:
    cap = 100_000.0
    policy = StatePolicy(StateConfig(target_days=10, budget_hysteresis=0.05), 0.0)
    caps = capabilities(load_profile("rpi4b").states)

    def inputs(day: float, spent: float) -> StateInputs:
        return StateInputs(battery=(cap - spent) / cap, capacity_j=cap, spent_j=spent, **caps)

    # day 1: spent 8 kJ; allowed = 92 kJ left / 9 days = 10.2 kJ/day: within budget
    assert policy.update(DAY, inputs(1, 8_000.0)).state == "warm"
    # day 2: spent 30 kJ = 15 kJ/day against 70 kJ / 8 days = 8.75 kJ/day: over budget
    d = policy.update(2 * DAY, inputs(2, 30_000.0))
    assert d.state == "watch" and "lifetime budget" in d.reason
    assert policy.last_budget is not None and policy.last_budget.ratio > 1.0
    # just under the allowed rate (ratio 0.98) is not enough to leave: hysteresis
    spent = cap * 4 * 0.98 / (6 + 4 * 0.98)  # (spent / 4 days) / (left / 6 days) = 0.98
    ratio = (spent / 4) / ((cap - spent) / 6)
    assert 0.95 < ratio < 1.0
    assert policy.update(4 * DAY, inputs(4, spent)).state == "watch"
    assert policy.update(5 * DAY, inputs(5, 30_000.0)).state == "warm"  # far under: back
    # woken from sleep, the policy goes on with the deployment's budget (start and spent kept)
    woken = StatePolicy(StateConfig(target_days=10), 5 * DAY, budget_start_s=0.0)
    assert woken.budget is not None and woken.budget.target_s == pytest.approx(10 * DAY)
    assert woken.update(5 * DAY, inputs(5, 30_000.0)).state == "warm"
    assert woken.update(5 * DAY, inputs(5, 60_000.0)).state == "watch"


def test_burst_hold_is_short_within_the_budget_and_long_over_it_or_when_low() -> None:
    cap = 100_000.0
    config = StateConfig(
        target_days=10,
        idle_state="sleep",
        over_budget_state="sleep",
        outside_state="sleep",
        batch_s=240.0,
        over_budget_batch_s=43200.0,
    )
    policy = StatePolicy(config, 0.0)

    def inputs(spent: float, battery: float | None = None) -> StateInputs:
        soc = (cap - spent) / cap if battery is None else battery
        return StateInputs(battery=soc, capacity_j=cap, spent_j=spent, **MCU)

    within = policy.update(DAY, inputs(8_000.0))  # 8 kJ/day against 10.2 allowed
    assert (within.state, within.batch_s) == ("sleep", 240.0)
    over = policy.update(2 * DAY, inputs(30_000.0))  # 15 kJ/day against 8.75 allowed
    assert (over.state, over.batch_s) == ("sleep", 43200.0)
    assert policy.update(5 * DAY, inputs(30_000.0)).batch_s == 240.0  # far under: short again
    low = policy.update(5 * DAY, inputs(30_000.0, battery=0.1))  # low battery: long
    assert low.batch_s == 43200.0
    # awake, there is no hold to arm; without a lifetime target the hold stays short
    assert policy.update(5 * DAY + 1, StateInputs(last_trigger_s=5 * DAY, **MCU)).batch_s is None
    free = StatePolicy(dataclasses.replace(config, target_days=0.0), 0.0)
    assert free.update(2 * DAY, inputs(30_000.0)).batch_s == 240.0


def test_low_battery_acts_as_over_budget_inside_a_window() -> None:
    policy = StatePolicy(StateConfig(over_budget_state="sleep"))
    d = policy.update(0.0, StateInputs(battery=0.1, **MCU))
    assert d.state == "sleep" and "battery" in d.reason and d.wake_at_s == pytest.approx(12 * H)
    # a PIR that cannot wake the device from off: resting in a window stays in watch
    policy = StatePolicy(StateConfig(over_budget_state="sleep"))
    d = policy.update(0.0, StateInputs(battery=0.1, **PI5))
    assert d.state == "watch" and "not possible" in d.reason


def test_unknown_inputs_force_nothing() -> None:
    policy = StatePolicy(StateConfig(target_days=30, idle_state="warm"))
    d = policy.update(DAY, StateInputs(**MCU))  # battery, spent, capacity, harvest unknown
    assert d.state == "warm" and not policy.over_budget
    assert policy.last_budget is not None and math.isnan(policy.last_budget.ratio)
    # NaN trigger times are no trigger
    policy = StatePolicy(StateConfig(idle_state="watch"))
    assert policy.update(0.0, StateInputs(last_trigger_s=math.nan, **MCU)).state == "watch"


def test_profiles_without_wake_sources_never_sleep_or_watch() -> None:
    none = dict(can_sleep=False, can_watch=False, pir_wakes=False)
    policy = StatePolicy(
        StateConfig(schedule="18:00-07:00", idle_state="watch", over_budget_state="sleep"), 0.0
    )
    for t in (_at(0, 12.0), _at(0, 20.0), _at(1, 12.0)):
        d = policy.update(t, StateInputs(battery=0.05, **none))
        assert d.state == "warm" and d.wake_at_s is None
    # the Pi 4B has a PIR but no RTC: it watches but never sleeps on a schedule
    pi4 = capabilities(load_profile("rpi4b").states)
    policy = StatePolicy(StateConfig(schedule="18:00-07:00"), 0.0)
    assert policy.update(_at(0, 12.0), StateInputs(**pi4)).state == "watch"
    # no PIR or timer fitted (watch_enabled false): warm
    policy = StatePolicy(StateConfig(schedule="18:00-07:00", watch_enabled=False), 0.0)
    assert policy.update(_at(0, 12.0), StateInputs(**pi4)).state == "warm"


def test_budget_counts_harvest_and_cold() -> None:
    budget = LifetimeBudget(0.0, 10 * DAY)
    warm = budget.status(
        DAY,
        StateInputs(
            battery=0.5,
            capacity_j=90_000.0,
            spent_j=1000.0,
            harvest_j_per_day=2000.0,
            temperature_c=20.0,
        ),
    )
    assert warm.allowed_j_per_day == pytest.approx(45_000.0 / 9 + 2000.0)
    assert warm.spent_j_per_day == pytest.approx(1000.0)
    cold = budget.status(
        DAY, StateInputs(battery=0.5, capacity_j=90_000.0, spent_j=1000.0, temperature_c=-10.0)
    )
    assert cold.energy_left_j < warm.energy_left_j
    # no battery reading: energy left = capacity - spent
    blind = budget.status(DAY, StateInputs(capacity_j=90_000.0, spent_j=10_000.0))
    assert blind.energy_left_j == pytest.approx(80_000.0)


def test_states_and_config_defaults() -> None:
    assert DEVICE_STATES == ("sleep", "watch", "warm")
    c = StateConfig()
    assert c.schedule == "" and c.idle_state == "warm" and c.check_period_s == 43200.0
    assert dataclasses.replace(c, outside_state="watch").outside_state == "watch"
    with pytest.raises(ConfigError):
        StatePolicy(c, initial="nap")
