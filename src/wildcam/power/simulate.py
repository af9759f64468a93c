"""A pure-logic run of the mode policy against a simulated battery, for days in milliseconds.

Each mode draws a fixed power above the board's idle (``mode_load_w``, e.g. measured from the
graph's energy reports); the battery is charged by its environment; the gauge the policy reads
may be noisy. The result is the mode timeline with the reason of every change, and samples.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from wildcam.power.battery import Environment, SimBattery
from wildcam.power.policy import Decision, ModePolicy, PolicyConfig, PolicyInputs

__all__ = ["DEFAULT_MODE_LOAD_W", "ModeChange", "Scenario", "SimResult", "simulate"]

# Power above idle per mode on a Pi 4B-class trap (ASSUMPTION, replace with measured figures).
DEFAULT_MODE_LOAD_W = {"critical": 0.05, "low_power": 0.3, "normal": 0.8, "aggressive": 1.5}


@dataclass(frozen=True)
class ModeChange:
    """The policy entered ``mode`` at ``t_s`` for ``reason``; ``battery``: the level it used."""

    t_s: float
    mode: str
    reason: str
    battery: float
    temperature_c: float


@dataclass(frozen=True)
class Scenario:
    """A battery, its environment and the load per mode, over ``hours`` from ``start_s``."""

    environment: Environment = field(default_factory=Environment)
    capacity_wh: float = 100.0
    initial_soc: float = 0.6
    idle_w: float = 2.85
    mode_load_w: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MODE_LOAD_W))
    self_heating_c_per_w: float = 6.0
    start_s: float = 0.0
    hours: float = 48.0
    step_s: float = 60.0
    gauge_noise: float = 0.0  # standard deviation of the state-of-charge reading
    seed: int = 0
    overrides: tuple[tuple[float, float, str], ...] = ()  # (from_s, to_s, mode), relative


@dataclass(frozen=True)
class SimResult:
    """The mode timeline (first entry: the initial mode) and one sample per step."""

    changes: list[ModeChange]
    samples: list[tuple[float, str, float, float]]  # (t_s, mode, true soc, temperature)

    def modes(self) -> list[str]:
        """The sequence of modes entered."""
        return [c.mode for c in self.changes]

    def time_in_mode_h(self) -> dict[str, float]:
        """Hours spent in each mode."""
        out: dict[str, float] = {}
        for (t0, mode, _, _), (t1, _, _, _) in zip(self.samples, self.samples[1:], strict=False):
            out[mode] = out.get(mode, 0.0) + (t1 - t0) / 3600.0
        return out


def simulate(policy_config: PolicyConfig, scenario: Scenario) -> SimResult:
    """Run the policy over the scenario in ``step_s`` steps."""
    sc = scenario
    rng = random.Random(sc.seed)
    battery = SimBattery(sc.capacity_wh, sc.initial_soc, sc.environment, idle_w=sc.idle_w)
    policy = ModePolicy(policy_config, sc.start_s)
    battery.advance(sc.start_s)
    changes = [ModeChange(sc.start_s, policy.mode, policy.reason, sc.initial_soc, math.nan)]
    samples = []
    steps = int(round(sc.hours * 3600.0 / sc.step_s))
    for i in range(steps + 1):
        t = sc.start_s + i * sc.step_s
        if i:
            battery.draw(sc.mode_load_w[policy.mode] * sc.step_s)
            battery.advance(t)
        load_w = sc.idle_w + sc.mode_load_w[policy.mode]
        temperature = sc.environment.ambient_c(t) + sc.self_heating_c_per_w * load_w
        reading = (
            min(1.0, max(0.0, battery.soc + rng.gauss(0.0, sc.gauge_noise)))
            if sc.gauge_noise
            else battery.soc
        )
        override = next((m for a, b, m in sc.overrides if a <= t - sc.start_s < b), "")
        decision: Decision = policy.update(
            t,
            PolicyInputs(
                battery=reading,
                temperature_c=temperature,
                charging=battery.charging,
                battery_temperature_c=sc.environment.ambient_c(t),
                override=override,
            ),
        )
        if decision.changed:
            changes.append(
                ModeChange(t, decision.mode, decision.reason, policy.level, temperature)
            )
        samples.append((t, policy.mode, battery.soc, temperature))
    return SimResult(changes, samples)
