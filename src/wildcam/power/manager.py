"""The power manager without ROS: latest battery and temperature, the mode policy, the parameter
push plan and the energy aggregate, driven by the node with times and messages it converted.

Times: ``now_s`` is the node clock (simulated or not) for the policy, staleness and energy; the
push plan runs on a monotonic wall clock (retries must not race ahead with simulated time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from wildcam.params import check_ranges, param
from wildcam.power.aggregate import EnergyAggregator, EnergySummary, projected_life_h
from wildcam.power.apply import ApplyPlan
from wildcam.power.energy import StageEnergy
from wildcam.power.policy import (
    MODES,
    Decision,
    ModePolicy,
    PolicyFile,
    PolicyInputs,
    cold_usable_fraction,
)
from wildcam.power.profile import load_profile, power_profile_param

__all__ = ["ManagerConfig", "ManagerCore"]


@dataclass(frozen=True)
class ManagerConfig:
    """The ``power_manager`` node's parameters."""

    override_mode: str = param("", "Manual mode ('' = automatic policy); the thermal "
                               "override still caps it (live).", choices=("", *MODES))
    policy_file: str = param("", "Policy and per-mode parameter sets ('' = the package's "
                             "config/power_policy.yaml).", read_only=True)
    update_period_s: float = param(1.0, "Policy and push period (node clock).", min=0.01,
                                   max=60.0)
    verify_period_s: float = param(10.0, "Wall seconds between checks that every node still "
                                   "holds its mode's values (catches restarts).", min=0.5,
                                   max=3600.0)
    call_timeout_s: float = param(2.0, "Wall seconds to wait for a parameter service answer.",
                                  min=0.1, max=60.0)
    max_attempts: int = param(5, "Attempts per node and push before it is reported failed.",
                              min=1, max=100)
    stale_after_s: float = param(120.0, "Battery or temperature older than this is unknown "
                                 "(node clock).", min=1.0, max=86400.0)
    battery_capacity_wh: float = param(0.0, "Battery capacity for the life projection (0 = "
                                       "from BatteryState capacity x voltage).", min=0.0,
                                       max=100000.0)
    energy_window_s: float = param(3600.0, "Window of the energy rates (node clock).", min=10.0,
                                   max=7 * 86400.0)
    summary_period_s: float = param(10.0, "Period of the energy summary (node clock).",
                                    min=0.1, max=3600.0)
    power_profile: str = power_profile_param()

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class _Latest:
    value: float = math.nan
    t_s: float = -math.inf


class ManagerCore:
    """State of the power manager; every method is called from the node's one thread."""

    def __init__(self, config: ManagerConfig, policy_file: PolicyFile, now_s: float,
                 wall_s: float) -> None:
        self.config = config
        self.policy_file = policy_file
        self.policy = ModePolicy(policy_file.policy, now_s)
        self.plan = ApplyPlan(policy_file.nodes(), max_attempts=config.max_attempts)
        self.plan.set_mode(policy_file.params_for(self.policy.mode), wall_s)
        self.energy = EnergyAggregator(config.energy_window_s)
        self.battery, self.temperature = _Latest(), _Latest()
        self.battery_temperature = _Latest()
        self.charging: bool | None = None
        self.remaining_wh = _Latest()

    def on_battery(self, now_s: float, percentage: float, charging: bool | None,
                   battery_temperature_c: float, stored_wh: float) -> None:
        """A BatteryState (NaN fields unknown); ``stored_wh`` from charge x voltage."""
        self.battery = _Latest(percentage, now_s)
        self.battery_temperature = _Latest(battery_temperature_c, now_s)
        self.charging = charging
        if self.config.battery_capacity_wh > 0:
            stored_wh = percentage * self.config.battery_capacity_wh
        self.remaining_wh = _Latest(stored_wh, now_s)

    def on_temperature(self, now_s: float, celsius: float) -> None:
        """A Temperature reading of the SoC/board."""
        self.temperature = _Latest(celsius, now_s)

    def on_energy(self, now_s: float, node: str, period_s: float,
                  stages: list[StageEnergy]) -> None:
        """An EnergyReport."""
        self.energy.add(now_s, node, period_s, stages)

    def _fresh(self, latest: _Latest, now_s: float) -> float:
        return latest.value if now_s - latest.t_s <= self.config.stale_after_s else math.nan

    def inputs(self, now_s: float) -> PolicyInputs:
        """What the policy sees now (stale readings are unknown)."""
        fresh_battery = not math.isnan(self._fresh(self.battery, now_s))
        return PolicyInputs(battery=self._fresh(self.battery, now_s),
                            temperature_c=self._fresh(self.temperature, now_s),
                            charging=self.charging if fresh_battery else None,
                            battery_temperature_c=self._fresh(self.battery_temperature, now_s),
                            override=self.config.override_mode)

    def step(self, now_s: float, wall_s: float) -> Decision:
        """Run the policy; on a change, every node gets the new mode's parameter set."""
        decision = self.policy.update(now_s, self.inputs(now_s))
        if decision.changed:
            self.plan.set_mode(self.policy_file.params_for(decision.mode), wall_s)
        return decision

    def summary(self, now_s: float) -> tuple[EnergySummary, float]:
        """The energy rates and the projected battery life in hours (NaN when unknown)."""
        summary = self.energy.summary(now_s, load_profile(self.config.power_profile).idle_w)
        remaining = self._fresh(self.remaining_wh, now_s) * cold_usable_fraction(
            self._fresh(self.battery_temperature, now_s), self.policy.config.cold_start_c,
            self.policy.config.cold_loss_per_c)
        return summary, projected_life_h(remaining, summary.average_power_w)
