"""The power manager without ROS: latest battery and temperature, the mode policy, the device-state
policy (warm / watch / sleep), the parameter push plan, the energy aggregate and the energy by
device state, driven by the node with times and messages it converted.

The mode (battery and temperature) and the device state each have a parameter set per node in
the policy file; the plan pushes the mode's set with the state's on top
(:meth:`~wildcam.power.policy.PolicyFile.params_for`), through the same calls, retries and
verification. The managed (lifecycle) nodes of the node table get a lifecycle goal per device
state (:meth:`ManagerCore.lifecycle_goals`: sleep deactivates, watch and warm activate), sent
through ``change_state`` when the goal changes or the node (re)appears; the sleep command waits
for the deactivation (:mod:`wildcam.power.sleep`). Mode, state and the
lifetime budget spent survive a restart or a sleep through
:mod:`wildcam.power.durable`.

Times: ``now_s`` is the node clock (simulated or not) for the policy, staleness and energy; the
push plan runs on a monotonic wall clock (retries must not race ahead with simulated time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from wildcam.camera.held_store import pending_frames
from wildcam.graph import NODES
from wildcam.params import check_ranges, param, power_profile_param
from wildcam.power.aggregate import (
    EnergyAggregator,
    EnergySummary,
    MeasuredEnergy,
    modelled_vs_measured,
    projected_life_h,
)
from wildcam.power.apply import ApplyPlan
from wildcam.power.durable import DurableState
from wildcam.power.energy import StageEnergy
from wildcam.power.policy import (
    MODES,
    Decision,
    ModePolicy,
    PolicyFile,
    PolicyInputs,
    cold_usable_fraction,
)
from wildcam.power.profile import load_profile
from wildcam.power.sleep import SleepGate
from wildcam.power.state_energy import StateLedger, state_costs
from wildcam.power.states import (
    DEVICE_STATES,
    StateConfig,
    StateDecision,
    StateInputs,
    StatePolicy,
    capabilities,
)
from wildcam.power.wake.rtc import RTC_BACKENDS
from wildcam.upload.config import default_state_dir

__all__ = ["ManagerConfig", "ManagerCore"]


@dataclass(frozen=True)
class ManagerConfig(StateConfig):
    """The ``power_manager`` node's parameters (the device-state policy's among them)."""

    override_mode: str = param(
        "",
        "Manual mode ('' = automatic policy); the thermal override still caps it (live).",
        choices=("", *MODES),
    )
    policy_file: str = param(
        "",
        "Policy and per-mode parameter sets ('' = the package's config/power_policy.yaml).",
        read_only=True,
    )
    update_period_s: float = param(1.0, "Policy and push period (node clock).", min=0.01, max=60.0)
    verify_period_s: float = param(
        10.0,
        "Wall seconds between checks that every node still "
        "holds its mode's values (catches restarts).",
        min=0.5,
        max=3600.0,
    )
    call_timeout_s: float = param(
        2.0, "Wall seconds to wait for a parameter service answer.", min=0.1, max=60.0
    )
    max_attempts: int = param(
        5, "Attempts per node and push before it is reported failed.", min=1, max=100
    )
    stale_after_s: float = param(
        120.0,
        "Battery or temperature older than this is unknown (node clock).",
        min=1.0,
        max=86400.0,
    )
    battery_capacity_wh: float = param(
        0.0,
        "Battery capacity for the life projection (0 = from BatteryState capacity x voltage).",
        min=0.0,
        max=100000.0,
    )
    energy_window_s: float = param(
        3600.0, "Window of the energy rates (node clock).", min=10.0, max=7 * 86400.0
    )
    summary_period_s: float = param(
        10.0, "Period of the energy summary (node clock).", min=0.1, max=3600.0
    )
    override_state: str = param(
        "", "Manual device state ('' = the state policy; live).", choices=("", *DEVICE_STATES)
    )
    state_file: str = param(
        "",
        "Where mode, device state and lifetime budget survive a sleep "
        "('' = ~/.local/state/wildcam/power/state.json).",
        read_only=True,
    )
    rtc_backend: str = param(
        "simulated_rtc",
        "What wakes the device from sleep: the Linux RTC "
        "alarm (rtc, then sleep_command halts it) or a simulated one.",
        choices=RTC_BACKENDS,
        read_only=True,
    )
    sleep_command: str = param(
        "systemctl poweroff",
        "Halt or suspend command of the rtc "
        "backend ({seconds}, {epoch}: the time to the alarm; {batch_s}: "
        "the power controller's burst hold).",
        read_only=True,
    )
    sleep_wait_s: float = param(
        10.0,
        "Wall seconds the sleep command waits for the managed nodes (the camera) to answer "
        "their deactivation; one that has not answered by then is reported and the device "
        "sleeps anyway (live).",
        min=0.0,
        max=600.0,
    )
    held_dir: str = param(
        "",
        "The camera's held_dir (bursts a power controller held while the SoC was off; '' = "
        "none): the device stays up while frames are held and held_settle_s after.",
        read_only=True,
    )
    held_settle_s: float = param(
        5.0,
        "Seconds the device stays up after the last held frame was removed (the camera "
        "removes a frame once the cascade decided it), for the uploader to queue its "
        "detection (ASSUMPTION: 5 s covers the decision-to-queue time; measure it with "
        "bench/wake.py on the device).",
        min=0.0,
        max=600.0,
    )
    power_profile: str = power_profile_param()

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ranges(self)

    def state_path(self) -> Path:
        """The durable state file."""
        return (
            Path(self.state_file).expanduser()
            if self.state_file
            else default_state_dir() / "power" / "state.json"
        )


_STATE_FIELDS = frozenset(f.name for f in fields(StateConfig))


@dataclass
class _Latest:
    value: float = math.nan
    t_s: float = -math.inf


class ManagerCore:
    """State of the power manager; every method is called from the node's one thread."""

    def __init__(
        self,
        config: ManagerConfig,
        policy_file: PolicyFile,
        now_s: float,
        saved: DurableState | None = None,
    ) -> None:
        self.config = config
        self.policy_file = policy_file
        self.policy = ModePolicy(policy_file.policy, now_s)
        self.state = StateDecision("warm", "start", False, now_s, None)
        self.budget_before_j = 0.0  # lifetime budget spent before this start
        self.budget_start_s = now_s  # when the lifetime budget began (survives restarts)
        # Saved asleep and running again: the RTC, the PIR or the controller woke the device. It
        # is up (watch) until the policy decides again, which sends it back to sleep (a change,
        # so the node sleeps) once nothing keeps it up; the sleep and the boot count.
        woke = saved is not None and saved.device_state == "sleep"
        if saved is not None:
            self.policy.mode, self.policy.reason = saved.mode, f"resumed: {saved.mode_reason}"
            self.state = StateDecision(
                "watch" if woke else saved.device_state,
                "woke from sleep" if woke else f"resumed: {saved.device_state_reason}",
                False,
                now_s,
                None,
            )
            self.budget_before_j = saved.budget_spent_j
            if math.isfinite(saved.budget_start_s):
                self.budget_start_s = saved.budget_start_s
        self.state_policy = self._state_policy(config, now_s)
        self.last_trigger_s = self.last_motion_s = math.nan
        self.pir_high = False  # a PIR output still high: the trigger goes on
        # Parameter sets go out once the node clock is seen running: a graph on a paused
        # simulated clock is not reconfigured before its day starts.
        self.plan = ApplyPlan(policy_file.nodes(), max_attempts=config.max_attempts)
        managed = tuple(spec.name for spec in NODES if spec.managed)
        self.lifecycle = ApplyPlan(managed, max_attempts=config.max_attempts)
        self._goals: dict[str, dict[str, Any]] = {}
        self.sleep = SleepGate()  # the sleep command waits for the deactivation
        self._pushed = False
        self._last_step_s = math.nan
        slept_from = (
            saved.saved_at_s if saved is not None and saved.saved_at_s <= now_s else now_s
        )  # NaN (not saved) compares False
        self.ledger = StateLedger(
            state_costs(load_profile(config.power_profile).states),
            "sleep" if woke else self.state.state,
            slept_from if woke else now_s,
        )
        if woke:
            self.ledger.advance(now_s, "watch")  # asleep since the save, then the boot
        self.energy = EnergyAggregator(config.energy_window_s)
        self.measured = MeasuredEnergy(config.energy_window_s)  # battery V x I (an INA sensor)
        self.battery, self.temperature = _Latest(), _Latest()
        self.battery_temperature = _Latest()
        self.charging: bool | None = None
        self.remaining_wh = _Latest()
        self.uploads_pending = _Latest()  # queue depth while the link is up (0 when down)
        self.held_seen_s = -math.inf  # when held frames were last found waiting

    def held_frames(self, now_s: float) -> int:
        """Held frames waiting (1 while ``held_settle_s`` has not passed since the last)."""
        held = pending_frames(Path(self.config.held_dir)) if self.config.held_dir else 0
        if held:
            self.held_seen_s = now_s
        return held or int(now_s - self.held_seen_s < self.config.held_settle_s)

    def _state_policy(self, config: ManagerConfig, now_s: float) -> StatePolicy:
        """The state policy in the current state, its lifetime budget from its first start."""
        return StatePolicy(
            config, now_s, initial=self.state.state, budget_start_s=self.budget_start_s
        )

    def reconfigure(self, config: ManagerConfig, now_s: float) -> None:
        """New parameters; a changed state setting restarts the state policy where it is."""
        old, self.config = self.config, config
        if any(getattr(old, k) != getattr(config, k) for k in _STATE_FIELDS):
            self.state_policy = self._state_policy(config, now_s)
        self.plan.max_attempts = self.lifecycle.max_attempts = config.max_attempts

    def on_trigger(self, now_s: float, active: bool = True) -> bool:
        """A camera trigger (PIR edge) arrived: a trigger holds while the PIR output stays high
        (``active`` false ends it). False when the device sleeps and its PIR cannot wake it
        (halted, the edge is lost; in a simulated run the graph still hears it)."""
        if (
            self.state.state == "sleep"
            and not load_profile(self.config.power_profile).states.pir_wakes_from_off
        ):
            return False
        self.pir_high = active
        self.last_trigger_s = now_s
        return True

    def on_animal(self, now_s: float) -> None:
        """The cascade decided a frame "animal": stay warm while the animal is there (motion
        alone does not: wind in the vegetation would keep the camera streaming)."""
        self.last_motion_s = now_s

    def on_battery(
        self,
        now_s: float,
        percentage: float,
        charging: bool | None,
        battery_temperature_c: float,
        stored_wh: float,
        voltage: float = math.nan,
        current: float = math.nan,
    ) -> None:
        """A BatteryState (NaN fields unknown); ``stored_wh`` from charge x voltage; voltage
        and current integrate into the measured energy."""
        self.measured.add(now_s, voltage, current)
        self.battery = _Latest(percentage, now_s)
        self.battery_temperature = _Latest(battery_temperature_c, now_s)
        self.charging = charging
        if self.config.battery_capacity_wh > 0:
            stored_wh = percentage * self.config.battery_capacity_wh
        self.remaining_wh = _Latest(stored_wh, now_s)

    def on_upload_status(self, now_s: float, queue_depth: int, link_up: bool) -> None:
        """The uploader's queue: items waiting with the link up keep the device from sleep
        (with the link down they cannot go out, so they do not)."""
        self.uploads_pending = _Latest(float(queue_depth if link_up else 0), now_s)

    def on_temperature(self, now_s: float, celsius: float) -> None:
        """A Temperature reading of the SoC/board."""
        self.temperature = _Latest(celsius, now_s)

    def on_energy(
        self, now_s: float, node: str, period_s: float, stages: list[StageEnergy]
    ) -> None:
        """An EnergyReport."""
        self.energy.add(now_s, node, period_s, stages)

    def _fresh(self, latest: _Latest, now_s: float) -> float:
        return latest.value if now_s - latest.t_s <= self.config.stale_after_s else math.nan

    def inputs(self, now_s: float) -> PolicyInputs:
        """What the policy sees now (stale readings are unknown)."""
        fresh_battery = not math.isnan(self._fresh(self.battery, now_s))
        return PolicyInputs(
            battery=self._fresh(self.battery, now_s),
            temperature_c=self._fresh(self.temperature, now_s),
            charging=self.charging if fresh_battery else None,
            battery_temperature_c=self._fresh(self.battery_temperature, now_s),
            override=self.config.override_mode,
        )

    def desired(self) -> dict[str, dict[str, Any]]:
        """node -> parameters of the current mode in the current device state."""
        return {
            n: dict(v)
            for n, v in self.policy_file.params_for(self.policy.mode, self.state.state).items()
        }

    def hand_set(self, node: str, changes: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """A parameter event of ``node``: the ``(name, value)`` changes that are new manual
        overrides (a managed parameter set to a value the plan did not push)."""
        managed = self.policy_file.managed(node)
        return [
            (name, value)
            for name, value in changes
            if self.plan.changed(node, name, value, name in managed)
        ]

    def status_values(self) -> dict[str, str]:
        """Mode and device state with their reasons, as diagnostics values."""
        return {
            "mode": self.policy.mode,
            "reason": self.policy.reason,
            "device_state": self.state.state,
            "device_state_reason": self.state.reason,
        }

    def override_values(self) -> dict[str, str]:
        """The manual overrides held now, as diagnostics values."""
        return {f"manual_override.{k}": repr(v) for k, v in self.plan.overrides().items()}

    def lifecycle_goals(self) -> dict[str, dict[str, Any]]:
        """Managed node -> ``{"lifecycle": goal}`` in the current device state: sleep
        deactivates (the camera releases its device); watch and warm activate (watch releases
        the device between trigger bursts through ``trigger_mode``, the node stays active)."""
        goal = "inactive" if self.state.state == "sleep" else "active"
        return {node: {"lifecycle": goal} for node in self.lifecycle.nodes}

    def recheck_lifecycle(self, wall_s: float) -> list[str]:
        """Asleep, send the sleep goal again to the managed nodes that took it (another
        lifecycle manager, bringup after a respawn, may have activated one since); an active
        goal is not enforced, so ``enabled`` set by hand keeps working. The nodes rechecked."""
        due = [
            item.node
            for item in self.lifecycle.nodes.values()
            if item.state == "ok" and item.desired.get("lifecycle") == "inactive"
        ]
        for node in due:
            self.lifecycle.mismatch(node, wall_s)
        return due

    def state_inputs(self, now_s: float) -> StateInputs:
        """What the state policy sees now: battery, triggers, the budget spent, capabilities."""
        battery = self._fresh(self.battery, now_s)
        stored = self._fresh(self.remaining_wh, now_s)
        capacity_wh = self.config.battery_capacity_wh or (
            stored / battery if battery > 0 else math.nan
        )
        cells = self._fresh(self.battery_temperature, now_s)
        return StateInputs(
            battery=battery,
            temperature_c=cells if not math.isnan(cells) else self._fresh(self.temperature, now_s),
            last_trigger_s=now_s if self.pir_high else self.last_trigger_s,
            last_motion_s=self.last_motion_s,
            spent_j=self.budget_spent_j(now_s),
            capacity_j=capacity_wh * 3600.0,
            busy=self._fresh(self.uploads_pending, now_s) > 0,  # unknown or stale: not busy
            held_frames=self.held_frames(now_s),
            **capabilities(load_profile(self.config.power_profile).states),
        )

    def _state(self, now_s: float) -> StateDecision:
        """The device state: the manual override, else the state policy."""
        override = self.config.override_state
        if override:
            changed = override != self.state.state
            self.state_policy.state = override  # the policy goes on from there afterwards
            asleep = override == "sleep"
            return StateDecision(
                override,
                f"manual override: {override}",
                changed,
                now_s if changed else self.state.since_s,
                now_s + self.config.check_period_s if asleep else None,
                self.config.batch_s if asleep else None,
            )
        d = self.state_policy.update(now_s, self.state_inputs(now_s))
        return StateDecision(
            d.state, d.reason, d.state != self.state.state, d.since_s, d.wake_at_s, d.batch_s
        )

    def step(self, now_s: float, wall_s: float) -> tuple[Decision, StateDecision]:
        """Run the mode and the state policies; on a change of either, every node gets the
        mode's parameter set with the state's on top."""
        decision = self.policy.update(now_s, self.inputs(now_s))
        self.state = self._state(now_s)
        self.ledger.advance(now_s, self.state.state)
        if self.state.changed and self.state.state == "sleep":
            self.sleep.enter(self.state, wall_s, self.config.sleep_wait_s)
        elif self.state.changed:
            self.sleep.cancel()  # woke before the sleep command ran: it will not run
        running = self._pushed or now_s > self._last_step_s  # False while NaN
        self._last_step_s = now_s
        if running and (decision.changed or self.state.changed or not self._pushed):
            self.plan.set_mode(self.desired(), wall_s)
            self._pushed = True
            goals = self.lifecycle_goals()
            if goals != self._goals:  # only a new goal: ``enabled`` set by hand is left alone
                self.lifecycle.set_mode(goals, wall_s)
                self._goals = goals
        return decision, self.state

    def budget_spent_j(self, now_s: float) -> float:
        """Lifetime energy spent: before this start, plus device states and stages since."""
        self.ledger.advance(now_s)
        return self.budget_before_j + self.ledger.total_j + self.energy.total_j

    def durable(self, now_s: float) -> DurableState:
        """What must survive a sleep, as of ``now_s``."""
        return DurableState(
            self.policy.mode,
            self.policy.reason,
            self.state.state,
            self.state.reason,
            self.budget_spent_j(now_s),
            now_s,
            self.budget_start_s,
        )

    def summary(self, now_s: float) -> tuple[EnergySummary, float]:
        """The energy rates and the projected battery life in hours (NaN when unknown)."""
        self.ledger.advance(now_s)
        base_w = self.ledger.average_w()
        if math.isnan(base_w):
            base_w = load_profile(self.config.power_profile).idle_w
        summary = self.energy.summary(now_s, base_w)
        remaining = self._fresh(self.remaining_wh, now_s) * cold_usable_fraction(
            self._fresh(self.battery_temperature, now_s),
            self.policy.config.cold_start_c,
            self.policy.config.cold_loss_per_c,
        )
        return summary, projected_life_h(remaining, summary.average_power_w)

    def summary_pairs(self, now_s: float) -> list[tuple[str, str]]:
        """The energy summary's ``(key, value)`` pairs: rates by stage and node, energy by
        device state, projected battery life, budget spent and measured against modelled."""
        summary, life_h = self.summary(now_s)
        return (
            summary.as_pairs()
            + self.ledger.as_pairs()
            + [
                ("projected_battery_h", f"{life_h:.2f}"),
                ("budget_spent_j", f"{self.budget_spent_j(now_s):.1f}"),
            ]
            + modelled_vs_measured(summary, self.measured, now_s)
        )
