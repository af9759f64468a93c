"""The mode policy and its 48-hour simulation, without ROS."""

from __future__ import annotations

import itertools
import math
import random
import time

import pytest

from wildcam.errors import ConfigError
from wildcam.power.battery import Environment
from wildcam.power.policy import (
    MODES,
    ModePolicy,
    PolicyConfig,
    PolicyFile,
    PolicyInputs,
    cold_usable_fraction,
    load_policy,
)
from wildcam.power.simulate import Scenario, simulate

CFG = PolicyConfig(smoothing_s=0.0)  # thresholds 0.15 / 0.40 / 0.75, hysteresis 0.05


def _run(policy: ModePolicy, samples: list[tuple[float, PolicyInputs]]) -> list[str]:
    return [policy.update(t, i).mode for t, i in samples]


def test_shipped_policy_file_names_every_mode_and_node() -> None:
    pf = load_policy()
    assert set(pf.modes) == set(MODES)
    assert {"camera_driver", "motion_detector", "cascade_detector", "uploader"} <= set(pf.nodes())
    assert pf.params_for("critical")["camera_driver"]["trigger_mode"] is True
    assert pf.params_for("critical")["uploader"]["enabled"] is False


@pytest.mark.parametrize(
    "bad",
    [
        {"policy": {"thresholds": {"low_power": 0.5, "normal": 0.4, "aggressive": 0.75}}},
        {"policy": {"hot_c": 60.0, "hot_clear_c": 65.0}},
        {"policy": {"min_dwell_s": {"normal": 10}}},
        {"policy": {"bogus": 1}},
        {"modes": {"turbo": {}}},
        {"modes": {"normal": {"camera_driver": {"fps": [1, 2]}}}},
        {"extra": {}},
    ],
)
def test_bad_policy_files_are_refused(bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError):
        PolicyFile.from_mapping(bad)


def test_thresholds_hysteresis_and_dwell() -> None:
    policy = ModePolicy(CFG, now_s=0.0)
    assert policy.update(0.0, PolicyInputs(battery=0.5)).mode == "normal"
    # Up to aggressive needs 0.75 and the normal mode's dwell (900 s).
    assert policy.update(100.0, PolicyInputs(battery=0.8)).mode == "normal"
    assert policy.update(900.0, PolicyInputs(battery=0.8)).mode == "aggressive"
    # Down only once 0.05 below the threshold, and only after the dwell.
    assert policy.update(2000.0, PolicyInputs(battery=0.71)).mode == "aggressive"
    assert policy.update(2000.0, PolicyInputs(battery=0.69)).mode == "normal"
    assert policy.update(2100.0, PolicyInputs(battery=0.2)).mode == "normal"  # dwell
    decision = policy.update(2900.0, PolicyInputs(battery=0.2))
    assert decision.mode == "low_power" and decision.changed and "battery 20%" in decision.reason


def test_critical_is_entered_at_once_and_left_only_above_the_threshold() -> None:
    policy = ModePolicy(CFG, now_s=0.0)
    decision = policy.update(1.0, PolicyInputs(battery=0.05, charging=True))
    assert decision.mode == "critical" and decision.reason.startswith("critical")
    # Charging does not lower the reserve's bar; dwell 300 s.
    assert policy.update(400.0, PolicyInputs(battery=0.12, charging=True)).mode == "critical"
    assert policy.update(400.0, PolicyInputs(battery=0.16)).mode == "low_power"


def test_charging_lowers_the_upper_thresholds() -> None:
    policy = ModePolicy(CFG, now_s=0.0)
    assert policy.update(1000.0, PolicyInputs(battery=0.66)).mode == "normal"
    assert policy.update(1000.0, PolicyInputs(battery=0.66, charging=True)).mode == "aggressive"


def test_noisy_gauge_does_not_flap() -> None:
    """A gauge hovering on the normal threshold with 3 % noise, sampled every second for 6 h."""
    rng = random.Random(1)
    policy = ModePolicy(PolicyConfig(), now_s=0.0)  # shipped smoothing (600 s) and dwell
    modes = _run(
        policy,
        [(float(t), PolicyInputs(battery=0.40 + rng.gauss(0, 0.03))) for t in range(6 * 3600)],
    )
    changes = sum(a != b for a, b in itertools.pairwise(modes))
    assert changes <= 1, changes
    # Without smoothing the dwell alone still bounds the changes to one per 15 min.
    raw = ModePolicy(PolicyConfig(smoothing_s=0.0), now_s=0.0)
    modes = _run(
        raw, [(float(t), PolicyInputs(battery=0.40 + rng.gauss(0, 0.03))) for t in range(6 * 3600)]
    )
    assert sum(a != b for a, b in itertools.pairwise(modes)) <= 6 * 4


def test_thermal_override_wins_over_battery_and_manual_override() -> None:
    policy = ModePolicy(CFG, now_s=0.0)
    full = PolicyInputs(battery=0.95, override="aggressive")
    assert policy.update(1.0, full).mode == "aggressive"
    hot = policy.update(2.0, PolicyInputs(battery=0.95, override="aggressive", temperature_c=75))
    assert hot.mode == "low_power" and hot.reason.startswith("thermal override")
    # Still hot between hot_clear_c (62) and hot_c (70): stays capped.
    assert policy.update(3.0, PolicyInputs(battery=0.95, temperature_c=65)).mode == "low_power"
    # Unknown temperature keeps the hot state.
    assert policy.update(4.0, PolicyInputs(battery=0.95)).mode == "low_power"
    # Cooled down: back up after the dwell.
    assert policy.update(5.0, PolicyInputs(battery=0.95, temperature_c=50)).mode == "low_power"
    assert policy.update(1000.0, PolicyInputs(battery=0.95, temperature_c=50)).mode == "aggressive"
    # Critical stays critical when hot.
    assert policy.update(1001.0, PolicyInputs(battery=0.01, temperature_c=90)).mode == "critical"


def test_unknown_battery_keeps_the_mode_and_manual_override_applies_at_once() -> None:
    policy = ModePolicy(CFG, now_s=0.0)
    assert policy.update(5000.0, PolicyInputs()).reason == "start"
    decision = policy.update(5001.0, PolicyInputs(override="critical"))
    assert decision.changed and decision.mode == "critical" and "manual" in decision.reason
    with pytest.raises(ConfigError):
        policy.update(5002.0, PolicyInputs(override="turbo"))


def test_clearing_the_override_with_an_unknown_battery_returns_to_the_default_mode() -> None:
    # A host without a gauge reports NaN: the override's mode must not outlive the override.
    policy = ModePolicy(PolicyConfig(smoothing_s=0.0, initial_mode="low_power"), now_s=0.0)
    assert policy.update(1.0, PolicyInputs(override="critical")).mode == "critical"
    cleared = policy.update(2.0, PolicyInputs())  # no dwell: leaving the override is at once
    assert cleared.changed and cleared.mode == "low_power"
    assert "override cleared" in cleared.reason and "battery unknown" in cleared.reason
    kept = policy.update(3.0, PolicyInputs())  # from here on, unknown keeps the mode
    assert not kept.changed and kept.mode == "low_power"
    # An override equal to the current mode still marks it manual, and clearing says so.
    policy.update(4.0, PolicyInputs(override="low_power"))
    assert policy.manual and policy.reason == "manual override: low_power"
    again = policy.update(5.0, PolicyInputs())
    assert again.changed and again.mode == "low_power" and not policy.manual


def test_clearing_the_override_with_a_known_battery_follows_the_battery_at_once() -> None:
    policy = ModePolicy(CFG, now_s=0.0)
    policy.update(1.0, PolicyInputs(battery=0.9, override="critical"))
    back = policy.update(2.0, PolicyInputs(battery=0.9))  # well within critical's 300 s dwell
    assert back.changed and back.mode == "aggressive" and back.reason == "battery 90%"


def test_cold_battery_is_derated() -> None:
    assert cold_usable_fraction(math.nan) == 1.0 and cold_usable_fraction(25.0) == 1.0
    assert cold_usable_fraction(-10.0) == pytest.approx(0.8)
    policy = ModePolicy(CFG, now_s=0.0)
    cold = policy.update(1000.0, PolicyInputs(battery=0.42, battery_temperature_c=-10.0))
    assert cold.mode == "low_power" and "cold" in cold.reason  # 0.42 x 0.8 = 0.336 usable


def _check_timeline(cfg: PolicyConfig, result) -> None:  # type: ignore[no-untyped-def]
    """Every change obeys the rules, judged from the recorded battery level and reason."""
    changes = result.changes
    for prev, change in itertools.pairwise(changes):
        rank_from, rank_to = MODES.index(prev.mode), MODES.index(change.mode)
        charging = "charging" in change.reason
        if change.reason.startswith("critical"):
            assert change.mode == "critical"
            assert change.battery < cfg.thresholds["low_power"] - cfg.hysteresis + 0.01
            continue
        assert change.t_s - prev.t_s >= cfg.min_dwell_s[prev.mode], (prev, change)
        if rank_to > rank_from:
            bonus = cfg.charging_bonus if charging and rank_to > 1 else 0.0
            assert change.battery >= cfg.thresholds[change.mode] - bonus - 0.01, change
        else:
            bonus = cfg.charging_bonus if charging and rank_from > 1 else 0.0
            assert change.battery < cfg.thresholds[prev.mode] - bonus - cfg.hysteresis + 0.01


SCENARIO = Scenario(
    environment=Environment(
        solar_peak_w=25.0,
        sunrise_h=6.0,
        sunset_h=20.0,
        ambient_mean_c=12.0,
        ambient_amplitude_c=8.0,
    ),
    capacity_wh=40.0,
    initial_soc=0.5,
    start_s=18 * 3600.0,
    hours=48.0,
    mode_load_w={"critical": 0.0, "low_power": 0.2, "normal": 0.5, "aggressive": 1.0},
    gauge_noise=0.02,
    seed=3,
)


def test_48_hour_scenario_follows_the_policy() -> None:
    cfg = load_policy().policy
    start = time.monotonic()
    result = simulate(cfg, SCENARIO)
    assert time.monotonic() - start < 5.0
    _check_timeline(cfg, result)
    # Evening start at 50 %: the night drains it through low_power into the reserve; the sun
    # brings it back up to aggressive; the second night down again, and so on.
    modes = result.modes()
    assert modes[:5] == ["normal", "low_power", "critical", "low_power", "normal"], modes
    assert "aggressive" in modes and len(modes) <= 12, modes
    hours = result.time_in_mode_h()
    assert sum(hours.values()) == pytest.approx(48.0, abs=0.1)
    assert hours["critical"] > 1.0


def test_hot_afternoons_are_throttled_in_the_simulation() -> None:
    hot_env = Environment(solar_peak_w=25.0, ambient_mean_c=45.0, ambient_amplitude_c=10.0)
    result = simulate(
        load_policy().policy,
        Scenario(environment=hot_env, capacity_wh=40.0, initial_soc=0.9, hours=48.0),
    )
    thermal = [c for c in result.changes if c.reason.startswith("thermal")]
    assert thermal and all(c.mode == "low_power" and c.temperature_c >= 70.0 for c in thermal)
    assert all(mode != "aggressive" or temp < 70.0 for _, mode, _, temp in result.samples)


def test_every_mode_parameter_is_a_declared_live_parameter_of_its_node() -> None:
    from wildcam.graph import NODES
    from wildcam.params import param_specs

    declared = {n.name: {s.name: s for s in param_specs(n.config_type())} for n in NODES}
    for mode, sets in load_policy().modes.items():
        for node, values in sets.items():
            for name, value in values.items():
                spec = declared[node].get(name)
                assert spec is not None, f"{mode}: {node} has no parameter {name}"
                assert type(value) is spec.type and not spec.read_only, (mode, node, name)
                if spec.min is not None:
                    assert spec.min <= value <= spec.max, (mode, node, name, value)


def test_power_sim_command(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from wildcam.cli import main

    assert main(["power-sim", "--hours", "24", "--json", "--load", "normal=0.5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["changes"][0]["mode"] == "normal"
    assert sum(out["hours_in_mode"].values()) == pytest.approx(24.0, abs=0.1)
    assert main(["power-sim", "--capacity-wh", "-1"]) == 2
