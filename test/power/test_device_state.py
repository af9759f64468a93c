"""The power manager's device states without ROS: state parameter sets on top of the mode's, the
energy by state, the durable state file, and the manager resuming it."""

from __future__ import annotations

import dataclasses
import math
import stat
from pathlib import Path

import numpy as np
import pytest

from wildcam.camera import FakeController, HeldBurstSource
from wildcam.errors import ConfigError
from wildcam.power.durable import DurableState, load_state, save_state
from wildcam.power.manager import ManagerConfig, ManagerCore
from wildcam.power.policy import PolicyFile, load_policy
from wildcam.power.profile import load_profile
from wildcam.power.state_energy import StateCosts, StateLedger, state_costs

MIDNIGHT = 1_782_000_000.0  # 2026-06-21 00:00 UTC
HOUR = 3600.0


def test_state_sets_go_on_top_of_the_mode_and_leaving_restores_it() -> None:
    policy = load_policy()
    warm = policy.params_for("normal", "warm")
    assert warm == policy.params_for("normal")
    watch = policy.params_for("normal", "watch")
    assert watch["camera_driver"]["trigger_mode"] is True
    assert watch["camera_driver"]["fps"] == warm["camera_driver"]["fps"]
    sleep = policy.params_for("critical", "sleep")
    assert sleep["uploader"]["enabled"] is False
    assert sleep["camera_driver"]["enabled"] is True  # the camera sleeps through its lifecycle


def test_a_state_value_no_mode_sets_is_refused() -> None:
    with pytest.raises(ConfigError, match="every mode must set"):
        PolicyFile.from_mapping(
            {
                "modes": {"normal": {"camera_driver": {"fps": 5.0}}},
                "states": {"watch": {"camera_driver": {"trigger_mode": True}}},
            }
        )
    with pytest.raises(ConfigError, match="unknown device state"):
        PolicyFile.from_mapping({"states": {"doze": {}}})


def test_ledger_integrates_state_power_and_transitions() -> None:
    costs = StateCosts(
        {"warm": 3.0, "watch": 2.0, "sleep": 0.5}, enter_sleep_j=10.0, leave_sleep_j=90.0
    )
    ledger = StateLedger(costs, "warm", 0.0)
    ledger.advance(100.0, "watch")
    ledger.advance(200.0, "sleep")
    ledger.advance(1200.0, "warm")
    ledger.advance(1210.0)
    assert ledger.seconds == {"warm": 110.0, "watch": 100.0, "sleep": 1000.0}
    assert ledger.joules == {"warm": 330.0, "watch": 200.0, "sleep": 500.0}
    assert ledger.transitions_j == 100.0 and ledger.wakes == 1
    assert ledger.total_j == pytest.approx(1130.0)
    assert ledger.average_w() == pytest.approx(1130.0 / 1210.0)


def test_profile_state_costs_follow_the_sleep_kind() -> None:
    rpi4b = load_profile("rpi4b").states
    costs = state_costs(rpi4b)
    assert costs.watts("warm") == rpi4b.idle_w == costs.watts("watch")
    assert costs.watts("sleep") == rpi4b.off_w  # a halt: no suspend on the Pi
    assert costs.leave_sleep_j == rpi4b.boot_j and costs.enter_sleep_j == rpi4b.shutdown_j


def test_state_file_is_atomic_private_and_a_damaged_one_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "power" / "state.json"
    assert load_state(path)[0] is None
    saved = DurableState("low_power", "battery 20%", "watch", "night", 1234.5, 99.0, 10.0)
    save_state(path, saved)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_state(path)[0] == saved
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temporary left
    path.write_text("{not json")
    state, note = load_state(path)
    assert state is None and "kept as state.json.bad" in note
    assert (path.parent / "state.json.bad").is_file() and not path.exists()


def _core(tmp_path: Path, saved: DurableState | None = None, **config: object) -> ManagerCore:
    cfg = ManagerConfig(state_file=str(tmp_path / "state.json"), **config)  # type: ignore[arg-type]
    return ManagerCore(cfg, load_policy(), MIDNIGHT, saved=saved)


def test_schedule_moves_the_device_between_warm_watch_and_sleep(tmp_path: Path) -> None:
    """rpi5 (RTC and PIR): asleep outside the night window, warm in it, warm after a trigger."""
    core = _core(
        tmp_path,
        power_profile="rpi5",
        schedule="20:00-06:00",
        warm_hold_s=600.0,
        check_period_s=4 * HOUR,
    )
    _, state = core.step(MIDNIGHT + 1 * HOUR, 0.0)
    assert state.state == "warm" and "active window" in state.reason
    assert core.desired()["camera_driver"]["trigger_mode"] is False
    assert core.lifecycle_goals() == {"camera_driver": {"lifecycle": "active"}}
    _, state = core.step(MIDNIGHT + 7 * HOUR, 0.0)
    assert state.changed and state.state == "sleep" and "outside" in state.reason
    assert state.wake_at_s == MIDNIGHT + 11 * HOUR  # the next check, before the window opens
    assert core.lifecycle.nodes["camera_driver"].desired == {"lifecycle": "inactive"}
    core.lifecycle.seen("camera_driver", 0.0)
    assert core.lifecycle.due(0.0) == [("camera_driver", {"lifecycle": "inactive"})]
    core.lifecycle.result("camera_driver", 0.0, {})
    assert core.recheck_lifecycle(1.0) == ["camera_driver"]  # asleep: the goal is sent again
    assert core.lifecycle.due(1.0) == [("camera_driver", {"lifecycle": "inactive"})]
    assert all(
        item.desired == core.desired().get(item.node, {}) for item in core.plan.nodes.values()
    )
    _, state = core.step(MIDNIGHT + 19 * HOUR, 0.0)
    assert state.wake_at_s == MIDNIGHT + 20 * HOUR  # the window's start
    assert not core.on_trigger(MIDNIGHT + 19.5 * HOUR)  # halted: the PIR edges are lost
    assert not core.on_trigger(MIDNIGHT + 19.6 * HOUR, active=False)
    _, state = core.step(MIDNIGHT + 19.5 * HOUR + 60, 0.0)
    assert state.state == "sleep"
    _, state = core.step(MIDNIGHT + 20 * HOUR, 0.0)
    assert state.state == "warm" and "active window" in state.reason
    assert core.lifecycle.nodes["camera_driver"].desired == {"lifecycle": "active"}
    assert core.lifecycle.due(2.0) == [("camera_driver", {"lifecycle": "active"})]
    core.lifecycle.result("camera_driver", 2.0, {})
    assert core.recheck_lifecycle(3.0) == []  # awake: enabled by hand is not fought
    assert core.on_trigger(MIDNIGHT + 21 * HOUR)
    assert core.step(MIDNIGHT + 21 * HOUR + 60, 0.0)[1].reason.startswith("trigger")

    assert core.ledger.seconds["warm"] == 8 * HOUR + 60 and core.ledger.wakes == 1
    assert core.ledger.transitions_j == pytest.approx(20.0 + 80.0)  # rpi5 shutdown + boot


def test_a_pir_held_high_keeps_the_trail_camera_warm(tmp_path: Path) -> None:
    """Watch through the window; warm while the PIR sees the animal and warm_hold_s after."""
    core = _core(tmp_path, idle_state="watch", warm_hold_s=600.0)
    assert core.step(MIDNIGHT + HOUR, 0.0)[1].state == "watch"
    core.on_trigger(MIDNIGHT + HOUR + 10)
    assert core.step(MIDNIGHT + 2 * HOUR, 0.0)[1].state == "warm"  # still high an hour on
    core.on_trigger(MIDNIGHT + 2 * HOUR, active=False)
    assert core.step(MIDNIGHT + 2 * HOUR + 300, 0.0)[1].state == "warm"
    assert core.step(MIDNIGHT + 2 * HOUR + 700, 0.0)[1].state == "watch"


def test_a_pir_that_switches_the_power_wakes_the_sleeping_device(tmp_path: Path) -> None:
    """pizero2w_mcu: a controller cuts the SoC's power and a PIR edge turns it back on."""
    core = _core(tmp_path, power_profile="pizero2w_mcu", schedule="20:00-06:00")
    assert core.step(MIDNIGHT + 7 * HOUR, 0.0)[1].state == "sleep"
    assert core.on_trigger(MIDNIGHT + 8 * HOUR)
    _, state = core.step(MIDNIGHT + 8 * HOUR + 10, 0.0)
    assert state.state == "warm" and "trigger" in state.reason


def test_the_sleep_decision_tells_the_controller_how_long_to_hold_bursts(tmp_path: Path) -> None:
    """pizero2w_mcu asleep: bursts held batch_s within the lifetime budget, longer over it."""
    hold = {
        "power_profile": "pizero2w_mcu",
        "idle_state": "sleep",
        "outside_state": "sleep",
        "over_budget_state": "sleep",
        "batch_s": 240.0,
        "over_budget_batch_s": 7200.0,
        "battery_capacity_wh": 37.0,
    }
    easy = _core(tmp_path, **hold)
    easy.on_battery(MIDNIGHT, 0.9, False, 20.0, 33.3)
    state = easy.step(MIDNIGHT + HOUR, 0.0)[1]
    assert (state.state, state.batch_s) == ("sleep", 240.0)
    tight = _core(tmp_path, target_days=3650.0, **hold)  # the warm first hour: over budget
    tight.on_battery(MIDNIGHT, 0.9, False, 20.0, 33.3)
    state = tight.step(MIDNIGHT + HOUR, 0.0)[1]
    assert (state.state, state.batch_s) == ("sleep", 7200.0)


def test_started_again_after_a_sleep_the_device_is_up_and_sleeps_again_when_done(
    tmp_path: Path,
) -> None:
    """Saved asleep, then running: a wake. The sleep and the boot count; the policy's next
    sleep is a change (so the node sleeps), after the queued uploads went out."""
    asleep = {
        "power_profile": "pizero2w_mcu",
        "idle_state": "sleep",
        "outside_state": "sleep",
        "over_budget_state": "sleep",
    }
    core = _core(tmp_path, **asleep)
    assert core.step(MIDNIGHT + HOUR, 0.0)[1].state == "sleep"
    saved = core.durable(MIDNIGHT + HOUR)
    states = load_profile("pizero2w_mcu").states
    woken = _core(tmp_path, saved=saved, **asleep)  # created at MIDNIGHT: 1 h "earlier"
    assert woken.state.state == "watch" and woken.state.reason == "woke from sleep"
    assert woken.ledger.wakes == 1 and woken.ledger.transitions_j == states.boot_j
    later = _core(
        tmp_path, saved=dataclasses.replace(saved, saved_at_s=MIDNIGHT - 10 * HOUR), **asleep
    )
    assert later.ledger.joules["sleep"] == pytest.approx(10 * HOUR * states.off_w)
    woken.on_upload_status(MIDNIGHT + 10, queue_depth=3, link_up=True)
    state = woken.step(MIDNIGHT + 20, 0.0)[1]
    assert state.state == "watch" and "uploads pending" in state.reason
    woken.on_upload_status(MIDNIGHT + 30, queue_depth=3, link_up=False)  # cannot send: sleep
    state = woken.step(MIDNIGHT + 40, 0.0)[1]
    assert state.state == "sleep" and state.changed
    woken.on_upload_status(MIDNIGHT + 50, queue_depth=0, link_up=True)
    assert woken.step(MIDNIGHT + 60, 0.0)[1].state == "sleep"


def test_a_lifetime_target_sends_the_device_to_watch(tmp_path: Path) -> None:
    """A 60-day target on a small battery: the warm board spends more than allowed per day."""
    core = _core(tmp_path, power_profile="rpi4b", target_days=60.0, battery_capacity_wh=37.0)
    core.on_battery(MIDNIGHT, 0.9, False, 20.0, 33.3)
    _, state = core.step(MIDNIGHT + 1 * HOUR, 0.0)
    assert state.state == "watch" and "lifetime budget" in state.reason, state.reason
    assert core.desired()["camera_driver"]["trigger_mode"] is True
    relaxed = _core(tmp_path, power_profile="rpi4b", target_days=0.2, battery_capacity_wh=37.0)
    relaxed.on_battery(MIDNIGHT, 0.9, False, 20.0, 33.3)
    assert relaxed.step(MIDNIGHT + 1 * HOUR, 0.0)[1].state == "warm"


def test_manual_state_override_wins_over_the_policy(tmp_path: Path) -> None:
    core = _core(tmp_path, override_state="watch")
    _, state = core.step(MIDNIGHT + 1.0, 0.0)
    assert state.state == "watch" and "manual" in state.reason


def test_a_restart_resumes_mode_state_and_budget(tmp_path: Path) -> None:
    core = _core(tmp_path, override_state="watch")
    core.step(MIDNIGHT + HOUR, 0.0)
    before = core.durable(MIDNIGHT + 2 * HOUR)
    assert before.budget_spent_j == pytest.approx(2 * HOUR * load_profile("rpi4b").states.idle_w)
    save_state(tmp_path / "state.json", before)
    saved, _ = load_state(tmp_path / "state.json")
    again = _core(tmp_path, saved=saved)
    assert again.policy.mode == before.mode and again.state.state == "watch"
    assert again.desired()["camera_driver"]["trigger_mode"] is True
    assert again.budget_spent_j(MIDNIGHT) == pytest.approx(before.budget_spent_j)
    assert again.budget_start_s == MIDNIGHT
    assert math.isnan(again.ledger.average_w())


def test_nothing_is_pushed_before_the_node_clock_runs(tmp_path: Path) -> None:
    """A paused simulated clock (the day run before its start) reconfigures no node."""
    core = _core(tmp_path, idle_state="watch")
    core.step(MIDNIGHT, 0.0)
    core.step(MIDNIGHT, 0.0)  # a timer that fired on the clock's first jump; still paused
    assert all(not item.desired for item in core.plan.nodes.values())
    core.step(MIDNIGHT + 60.0, 0.0)
    assert core.plan.nodes["camera_driver"].desired["trigger_mode"] is True


def test_woken_with_held_bursts_the_device_sleeps_once_they_are_drained_and_settled(
    tmp_path: Path,
) -> None:
    """The controller held bursts: the woken device stays up while frames are held and
    ``held_settle_s`` after the last one went out (the cascade's decision, the uploader's
    queue), then sleeps."""
    held = tmp_path / "held"
    asleep = {
        "power_profile": "pizero2w_mcu",
        "idle_state": "sleep",
        "outside_state": "sleep",
        "over_budget_state": "sleep",
        "held_dir": str(held),
        "held_settle_s": 5.0,
    }
    core = _core(tmp_path, **asleep)
    assert core.step(MIDNIGHT + HOUR, 0.0)[1].state == "sleep"
    t0 = int((MIDNIGHT + HOUR + 60) * 1e9)
    FakeController(held).write(t0, [(t0 + k, np.zeros((8, 8, 3), np.uint8)) for k in (1, 2)])
    woken = _core(tmp_path, saved=core.durable(MIDNIGHT + HOUR), **asleep)
    now = MIDNIGHT + 2 * HOUR
    state = woken.step(now, 0.0)[1]
    assert state.state == "watch" and "2 held frames to analyse" in state.reason
    source = HeldBurstSource(held)
    while source.read() is not None:  # the camera publishes them
        source.commit()
    state = woken.step(now + 1, 0.0)[1]
    assert state.state == "watch" and "held frames" in state.reason  # settling
    woken.on_upload_status(now + 5, queue_depth=2, link_up=True)  # the detections queued
    assert woken.step(now + 7, 0.0)[1].state == "watch"
    woken.on_upload_status(now + 8, queue_depth=0, link_up=True)  # sent
    state = woken.step(now + 9, 0.0)[1]
    assert state.state == "sleep" and state.changed
