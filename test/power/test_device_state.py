"""The power manager's device states without ROS: state parameter sets on top of the mode's, the
energy by state, the durable state file, and the manager resuming it."""

from __future__ import annotations

import math
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from wildcam.errors import ConfigError
from wildcam.power.durable import DurableState, load_state, save_state
from wildcam.power.manager import ManagerConfig, ManagerCore
from wildcam.power.policy import PolicyFile, load_policy
from wildcam.power.profile import load_profile
from wildcam.power.state_energy import StateCosts, StateLedger, state_costs


@dataclass(frozen=True)
class _Decision:
    state: str
    reason: str
    changed: bool
    since_s: float
    wake_at_s: float | None = None


class _Scripted:
    """A state-policy double: the state it is told, whatever the inputs."""

    def __init__(self) -> None:
        self.state, self.wake_at_s, self.calls = "warm", None, 0

    def update(self, now_s: float, inputs: object) -> _Decision:
        self.calls += 1
        return _Decision(self.state, f"scripted {self.state}", False, now_s, self.wake_at_s)


def test_state_sets_go_on_top_of_the_mode_and_leaving_restores_it() -> None:
    policy = load_policy()
    warm = policy.params_for("normal", "warm")
    assert warm == policy.params_for("normal")
    watch = policy.params_for("normal", "watch")
    assert watch["camera_driver"]["trigger_mode"] is True
    assert watch["camera_driver"]["fps"] == warm["camera_driver"]["fps"]
    sleep = policy.params_for("critical", "sleep")
    assert sleep["camera_driver"]["enabled"] is False and sleep["uploader"]["enabled"] is False


def test_a_state_value_no_mode_sets_is_refused() -> None:
    with pytest.raises(ConfigError, match="every mode must set"):
        PolicyFile.from_mapping({"modes": {"normal": {"camera_driver": {"fps": 5.0}}},
                                 "states": {"watch": {"camera_driver": {"trigger_mode": True}}}})
    with pytest.raises(ConfigError, match="unknown device state"):
        PolicyFile.from_mapping({"states": {"doze": {}}})


def test_ledger_integrates_state_power_and_transitions() -> None:
    costs = StateCosts({"warm": 3.0, "watch": 2.0, "sleep": 0.5}, enter_sleep_j=10.0,
                       leave_sleep_j=90.0)
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
    saved = DurableState("low_power", "battery 20%", "watch", "night", 1234.5, 99.0)
    save_state(path, saved)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_state(path)[0] == saved
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temporary left
    path.write_text("{not json")
    state, note = load_state(path)
    assert state is None and "kept as state.json.bad" in note
    assert (path.parent / "state.json.bad").is_file() and not path.exists()


def _core(tmp_path: Path, saved: DurableState | None = None,
          **config: object) -> tuple[ManagerCore, _Scripted]:
    double = _Scripted()
    cfg = ManagerConfig(state_file=str(tmp_path / "state.json"), **config)  # type: ignore[arg-type]
    return ManagerCore(cfg, load_policy(), 0.0, 0.0, state_policy=double, saved=saved), double


def test_manager_pushes_the_state_set_and_counts_energy_by_state(tmp_path: Path) -> None:
    core, policy = _core(tmp_path)
    assert core.desired()["camera_driver"]["trigger_mode"] is False
    policy.state = "watch"
    _, state = core.step(60.0, 0.0)
    assert state.changed and state.state == "watch"
    assert core.desired()["camera_driver"]["trigger_mode"] is True
    assert all(item.desired == core.desired().get(item.node, {})
               for item in core.plan.nodes.values())
    policy.state, policy.wake_at_s = "sleep", 7200.0
    _, state = core.step(120.0, 0.0)
    assert state.state == "sleep" and state.wake_at_s == 7200.0
    assert core.desired()["camera_driver"]["enabled"] is False
    assert core.ledger.seconds["warm"] == 60.0 and core.ledger.seconds["watch"] == 60.0
    _, state = core.step(180.0, 0.0)
    assert not state.changed


def test_manual_state_override_wins_over_the_policy(tmp_path: Path) -> None:
    core, policy = _core(tmp_path, override_state="sleep")
    _, state = core.step(1.0, 0.0)
    assert state.state == "sleep" and "manual" in state.reason and policy.calls == 0


def test_a_restart_resumes_mode_state_and_budget(tmp_path: Path) -> None:
    core, policy = _core(tmp_path)
    policy.state = "watch"
    core.step(3600.0, 0.0)
    before = core.durable(7200.0)
    assert before.budget_spent_j == pytest.approx(
        3600.0 * load_profile("rpi4b").states.idle_w * 2)
    save_state(tmp_path / "state.json", before)
    saved, _ = load_state(tmp_path / "state.json")
    again, _ = _core(tmp_path, saved=saved)
    assert again.policy.mode == before.mode and again.state.state == "watch"
    assert again.desired()["camera_driver"]["trigger_mode"] is True
    assert again.budget_spent_j(0.0) == pytest.approx(before.budget_spent_j)
    assert math.isnan(again.ledger.average_w())
