"""The power mode policy: battery thresholds with hysteresis, a minimum dwell per mode, a critical
tier, a thermal override and a manual override. Pure logic; the power manager node feeds it.

Modes, lowest first: ``critical`` (trigger-driven capture only, keep a reserve), ``low_power``,
``normal``, ``aggressive``. Each decision, in order of precedence:

1. **hot** (temperature >= ``hot_c``, until it falls below ``hot_clear_c``): the mode is capped
   at ``hot_mode`` at once, whatever the battery or the manual override says;
2. **manual override** (``override_mode``): that mode, at once;
3. **critical**: battery ``hysteresis`` below the ``low_power`` threshold: ``critical`` at once
   (the reserve is protected; leaving it follows rule 4);
4. **battery**: the highest mode whose rising threshold the battery reaches (the ``normal`` and
   ``aggressive`` thresholds lowered by ``charging_bonus`` while charging); a step down only
   once the battery is ``hysteresis`` below the current mode's threshold; any battery-driven
   change waits until the current mode has lasted its ``min_dwell_s``.

The battery level the policy uses is the gauge reading averaged over ``smoothing_s`` (a noisy
gauge must not flip modes), times the usable fraction at the cells' temperature (cold Li-ion
cells deliver less: :func:`cold_usable_fraction`). An unknown (NaN) battery keeps the current
mode, except when a manual override was just cleared: the mode the override set says nothing
about the battery, so the policy returns to its configured default (``initial_mode``) at once.
Leaving an override is always immediate (no dwell). An unknown temperature keeps the hot/not-hot
state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from wildcam.errors import ConfigError
from wildcam.rosenv import config_dir

__all__ = [
    "MODES",
    "Decision",
    "ModePolicy",
    "PolicyConfig",
    "PolicyFile",
    "PolicyInputs",
    "cold_usable_fraction",
    "load_policy",
    "mode_index",
]

MODES = ("critical", "low_power", "normal", "aggressive")


def mode_index(mode: str) -> int:
    """Rank of ``mode`` (0 = critical); :class:`ConfigError` if it is no mode."""
    try:
        return MODES.index(mode)
    except ValueError:
        raise ConfigError(f"unknown mode {mode!r}; one of {', '.join(MODES)}") from None


def cold_usable_fraction(
    temperature_c: float, start_c: float = 10.0, loss_per_c: float = 0.01, floor: float = 0.5
) -> float:
    """Share of the stored charge a Li-ion cell can deliver at ``temperature_c``.

    Linear loss below ``start_c`` (about 1 %/°C: ~80 % at -10 °C, typical Li-ion datasheets);
    1.0 when the temperature is unknown.
    """
    if math.isnan(temperature_c) or temperature_c >= start_c:
        return 1.0
    return max(floor, 1.0 - (start_c - temperature_c) * loss_per_c)


@dataclass(frozen=True)
class PolicyConfig:
    """The ``policy`` section of ``config/power_policy.yaml``."""

    thresholds: Mapping[str, float] = field(
        default_factory=lambda: {"low_power": 0.15, "normal": 0.40, "aggressive": 0.75}
    )
    hysteresis: float = 0.05
    charging_bonus: float = 0.10
    min_dwell_s: Mapping[str, float] = field(
        default_factory=lambda: {
            "critical": 300.0,
            "low_power": 900.0,
            "normal": 900.0,
            "aggressive": 900.0,
        }
    )
    hot_c: float = 70.0
    hot_clear_c: float = 62.0
    hot_mode: str = "low_power"
    cold_start_c: float = 10.0
    cold_loss_per_c: float = 0.01
    smoothing_s: float = 600.0
    initial_mode: str = "normal"

    def __post_init__(self) -> None:
        if set(self.thresholds) != set(MODES[1:]):
            raise ConfigError(f"policy thresholds must name exactly {', '.join(MODES[1:])}")
        levels = [self.thresholds[m] for m in MODES[1:]]
        if not all(0.0 <= v <= 1.0 for v in levels) or levels != sorted(levels):
            raise ConfigError(f"policy thresholds must rise within [0, 1], got {levels}")
        if set(self.min_dwell_s) != set(MODES) or min(self.min_dwell_s.values()) < 0:
            raise ConfigError(
                f"policy min_dwell_s must give every mode ({', '.join(MODES)}) a value >= 0"
            )
        if self.smoothing_s < 0:
            raise ConfigError("policy smoothing_s must be >= 0")
        if not 0.0 <= self.hysteresis <= 0.5 or not 0.0 <= self.charging_bonus <= 0.5:
            raise ConfigError("policy hysteresis and charging_bonus must be in [0, 0.5]")
        if self.hot_clear_c >= self.hot_c:
            raise ConfigError(
                f"policy hot_clear_c ({self.hot_clear_c}) must be below hot_c ({self.hot_c})"
            )
        mode_index(self.hot_mode)
        mode_index(self.initial_mode)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PolicyConfig:
        """Validate a mapping (the YAML section); unknown keys are refused."""
        try:
            return cls(**dict(data))
        except TypeError as err:
            raise ConfigError(f"power policy: {err}") from err


ParamSets = Mapping[str, Mapping[str, Mapping[str, Any]]]  # mode -> node -> {param: value}


def _param_sets(data: Mapping[str, Any], section: str) -> dict[str, dict[str, dict[str, Any]]]:
    """``section`` of the file (name -> node -> {param: scalar}), checked."""
    sets = data.get(section) or {}
    for name, nodes in sets.items():
        for node_name, values in (nodes or {}).items():
            if not isinstance(values, dict) or not all(
                isinstance(v, (bool, int, float, str)) for v in values.values()
            ):
                raise ConfigError(
                    f"power policy: {section}.{name}.{node_name} must map "
                    "parameter names to scalar values"
                )
    return {m: {n: dict(v or {}) for n, v in (nodes or {}).items()} for m, nodes in sets.items()}


@dataclass(frozen=True)
class PolicyFile:
    """``config/power_policy.yaml``: the policy and, per mode and per device state, each node's
    parameter set (a state's values go on top of the mode's)."""

    policy: PolicyConfig
    modes: ParamSets
    states: ParamSets = field(default_factory=dict)

    def params_for(self, mode: str, state: str = "warm") -> Mapping[str, Mapping[str, Any]]:
        """node -> {param: value} of ``mode`` in device ``state`` (empty when none is given)."""
        merged = {n: dict(v) for n, v in self.modes.get(mode, {}).items()}
        for node_name, values in self.states.get(state, {}).items():
            merged.setdefault(node_name, {}).update(values)
        return merged

    def nodes(self) -> tuple[str, ...]:
        """Every node some mode or state sets parameters on, sorted."""
        return tuple(
            sorted({n for sets in (*self.modes.values(), *self.states.values()) for n in sets})
        )

    def managed(self, node: str) -> frozenset[str]:
        """The parameters of ``node`` that some mode or state sets."""
        return frozenset(
            k for sets in (*self.modes.values(), *self.states.values()) for k in sets.get(node, {})
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PolicyFile:
        """Validate the file's mapping: known sections, modes and states, scalar values, and
        that every parameter a state sets is set by every mode (leaving the state restores it).
        """
        from wildcam.power.states import DEVICE_STATES  # it imports this module

        unknown = sorted(set(data) - {"policy", "modes", "states"})
        if unknown:
            raise ConfigError(f"power policy: unknown section(s) {unknown}")
        modes, states = _param_sets(data, "modes"), _param_sets(data, "states")
        for mode in modes:
            mode_index(mode)
        for state, nodes in states.items():
            if state not in DEVICE_STATES:
                raise ConfigError(
                    f"power policy: unknown device state {state!r}; one of "
                    f"{', '.join(DEVICE_STATES)}"
                )
            for node_name, values in nodes.items():
                unset = sorted(
                    f"{node_name}.{k}"
                    for k in values
                    for m in MODES
                    if k not in modes.get(m, {}).get(node_name, {})
                )
                if unset:
                    raise ConfigError(
                        f"power policy: states.{state} sets {unset[0]}, which "
                        "every mode must set too (leaving the state restores it)"
                    )
        return cls(PolicyConfig.from_mapping(data.get("policy") or {}), modes, states)


def load_policy(path: str | Path = "") -> PolicyFile:
    """Load a policy file (``""``: the package's ``config/power_policy.yaml``)."""
    path = Path(path) if path else config_dir() / "power_policy.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read power policy {path}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"power policy {path} is not a mapping")
    return PolicyFile.from_mapping(data)


@dataclass(frozen=True)
class PolicyInputs:
    """What the policy sees at one instant. NaN means unknown; ``charging`` None is unknown."""

    battery: float = math.nan  # state of charge 0..1
    temperature_c: float = math.nan  # SoC/board: the thermal override
    charging: bool | None = None
    battery_temperature_c: float = math.nan  # cells: the cold derating (SoC's if unknown)
    override: str = ""  # "" or a mode


@dataclass(frozen=True)
class Decision:
    """The mode after an update, why it is that mode, and whether it just changed."""

    mode: str
    reason: str
    changed: bool
    since_s: float


class ModePolicy:
    """The state machine: call :meth:`update` with the time and the inputs; it returns the mode."""

    def __init__(self, config: PolicyConfig, now_s: float = 0.0) -> None:
        self.config = config
        self.mode = config.initial_mode
        self.reason = "start"
        self.since_s = now_s
        self.hot = False
        self.temperature_c = math.nan  # last known SoC temperature
        self.battery: float = math.nan  # smoothed gauge reading
        self.level: float = math.nan  # the smoothed reading after cold derating: what counts
        self._battery_t = now_s
        self.manual = False  # the current mode is the manual override's

    def effective_battery(self, inputs: PolicyInputs) -> float:
        """State of charge the policy acts on: reported charge times the cold usable fraction."""
        c = self.config
        cells = inputs.battery_temperature_c
        if math.isnan(cells):
            cells = inputs.temperature_c
        return inputs.battery * cold_usable_fraction(cells, c.cold_start_c, c.cold_loss_per_c)

    def battery_mode(self, battery: float, charging: bool | None) -> str:
        """The battery-driven mode from ``battery`` given the current mode (hysteresis only)."""
        c = self.config
        bonus = c.charging_bonus if charging else 0.0

        def level(b: float) -> int:
            rank = 0
            for i, m in enumerate(MODES[1:], start=1):
                # Charging lowers the bars above low_power; the reserve's bar never moves.
                if b >= c.thresholds[m] - (bonus if i > 1 else 0.0):
                    rank = i
            return rank

        current = mode_index(self.mode)
        rising = level(battery)
        if rising > current:
            return MODES[rising]
        falling = level(battery + c.hysteresis)
        return MODES[min(current, falling)]

    def _smooth(self, now_s: float, battery: float) -> float:
        """Exponential average of the gauge over ``smoothing_s``."""
        if math.isnan(self.battery) or self.config.smoothing_s == 0:
            self.battery = battery
        else:
            alpha = 1.0 - math.exp(-max(0.0, now_s - self._battery_t) / self.config.smoothing_s)
            self.battery += alpha * (battery - self.battery)
        self._battery_t = now_s
        return self.battery

    def _thermal(self, temperature_c: float) -> None:
        if math.isnan(temperature_c):
            return
        self.temperature_c = temperature_c
        if temperature_c >= self.config.hot_c:
            self.hot = True
        elif temperature_c < self.config.hot_clear_c:
            self.hot = False

    def _propose(self, now_s: float, inputs: PolicyInputs) -> tuple[str, str, bool]:
        """(mode, reason, immediate): what the inputs ask for, before the thermal cap."""
        if inputs.override:
            return inputs.override, f"manual override: {inputs.override}", True
        if math.isnan(inputs.battery):
            if self.manual:  # the override's mode says nothing about the battery
                return (
                    self.config.initial_mode,
                    f"override cleared, battery unknown: default mode {self.config.initial_mode}",
                    True,
                )
            return self.mode, "battery unknown: mode kept", False
        battery = self.level = self.effective_battery(inputs)
        text = f"battery {battery:.0%}"
        if inputs.battery - battery >= 0.005:
            text += f" usable in the cold ({inputs.battery:.0%} charged)"
        if inputs.charging:
            text += ", charging"
        mode = self.battery_mode(battery, inputs.charging)
        if mode == "critical" and self.mode != "critical":  # the reserve: no dwell
            return mode, f"critical: {text}", True
        return mode, text, False

    def update(self, now_s: float, inputs: PolicyInputs) -> Decision:
        """Advance to ``now_s`` with ``inputs``; return the (possibly new) mode and its reason."""
        if inputs.override:
            mode_index(inputs.override)
        self._thermal(inputs.temperature_c)
        if not math.isnan(inputs.battery):
            inputs = replace(inputs, battery=self._smooth(now_s, inputs.battery))
        mode, reason, immediate = self._propose(now_s, inputs)
        manual = bool(inputs.override) and mode == inputs.override
        switching = manual != self.manual  # entering or leaving the override: a new reason
        immediate = immediate or switching
        cap = self.config.hot_mode
        if self.hot and mode_index(mode) > mode_index(cap):
            mode, immediate = cap, True
            reason = (
                f"thermal override: {self.temperature_c:.1f} °C >= "
                f"{self.config.hot_c:.0f} °C (wanted: {reason})"
            )
        dwell = self.config.min_dwell_s[self.mode]
        if (mode != self.mode or switching) and (immediate or now_s - self.since_s >= dwell):
            self.mode, self.reason, self.since_s, self.manual = mode, reason, now_s, manual
            return Decision(mode, reason, True, now_s)
        return Decision(self.mode, self.reason, False, self.since_s)
