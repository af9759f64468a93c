"""A simulated battery and its environment: solar curve, charger windows, ambient temperature.

:class:`Environment` answers "how much charging power, and how warm, at this time of day";
:class:`SimBattery` integrates the energy drawn from it (what the stack reports plus the board's
idle power) against that charge. Time is seconds since the epoch (the node clock, simulated or
not); times of day are local, ``utc_offset_h`` from UTC.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from wildcam.errors import ConfigError

__all__ = ["ChargerWindow", "Environment", "SimBattery", "hour_of_day", "parse_windows"]

_WINDOW = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*@\s*([\d.]+)\s*$")
_SUBSTEP_S = 60.0  # integration step: the solar curve and windows change slowly


@dataclass(frozen=True)
class ChargerWindow:
    """A daily window (local hours, may wrap past midnight) in which a charger gives ``watts``."""

    start_h: float
    end_h: float
    watts: float

    def contains(self, hour: float) -> bool:
        """Whether the local ``hour`` (0..24) is inside the window."""
        if self.start_h <= self.end_h:
            return self.start_h <= hour < self.end_h
        return hour >= self.start_h or hour < self.end_h


def parse_windows(text: str) -> tuple[ChargerWindow, ...]:
    """Parse ``"22:00-06:00@5, 12-13@10"`` (local hours, watts); ``""`` gives none."""
    windows = []
    for chunk in text.split(","):
        if not chunk.strip():
            continue
        match = _WINDOW.match(chunk)
        if not match:
            raise ConfigError(f"charger window {chunk.strip()!r} is not 'HH[:MM]-HH[:MM]@W'")
        h1, m1, h2, m2, watts = match.groups()
        start, end = int(h1) + int(m1 or 0) / 60, int(h2) + int(m2 or 0) / 60
        if not (0 <= start <= 24 and 0 <= end <= 24):
            raise ConfigError(f"charger window {chunk.strip()!r}: hours must be within 0..24")
        windows.append(ChargerWindow(start, end, float(watts)))
    return tuple(windows)


def hour_of_day(t_s: float, utc_offset_h: float = 0.0) -> float:
    """Local hour (0..24) of epoch time ``t_s``."""
    return ((t_s + utc_offset_h * 3600.0) % 86400.0) / 3600.0


@dataclass(frozen=True)
class Environment:
    """Charging power and ambient temperature over the day.

    Solar: ``solar_peak_w`` times a half sine between ``sunrise_h`` and ``sunset_h``, times
    ``solar_factor`` (clouds, panel angle). Ambient: a cosine around ``ambient_mean_c`` peaking
    at ``warmest_h``.
    """

    solar_peak_w: float = 0.0
    sunrise_h: float = 6.0
    sunset_h: float = 20.0
    solar_factor: float = 1.0
    chargers: tuple[ChargerWindow, ...] = ()
    ambient_mean_c: float = 15.0
    ambient_amplitude_c: float = 5.0
    warmest_h: float = 15.0
    utc_offset_h: float = 0.0

    def solar_w(self, t_s: float) -> float:
        """Solar charging power at ``t_s``."""
        hour = hour_of_day(t_s, self.utc_offset_h)
        if not self.sunrise_h < hour < self.sunset_h:
            return 0.0
        phase = (hour - self.sunrise_h) / (self.sunset_h - self.sunrise_h)
        return self.solar_peak_w * self.solar_factor * math.sin(math.pi * phase)

    def charger_w(self, t_s: float) -> float:
        """Power from charger windows at ``t_s``."""
        hour = hour_of_day(t_s, self.utc_offset_h)
        return sum(w.watts for w in self.chargers if w.contains(hour))

    def charge_w(self, t_s: float) -> float:
        """All charging power at ``t_s``."""
        return self.solar_w(t_s) + self.charger_w(t_s)

    def ambient_c(self, t_s: float) -> float:
        """Ambient temperature at ``t_s``."""
        hour = hour_of_day(t_s, self.utc_offset_h)
        return self.ambient_mean_c + self.ambient_amplitude_c * math.cos(
            2 * math.pi * (hour - self.warmest_h) / 24.0
        )


@dataclass
class SimBattery:
    """A battery of ``capacity_wh`` at ``soc`` (0..1) charged by an :class:`Environment`.

    :meth:`draw` takes energy out now (what the stack reports); :meth:`advance` integrates the
    idle load and the charging power up to ``t_s``. Charging goes through ``charge_efficiency``.
    """

    capacity_wh: float
    soc: float
    environment: Environment = field(default_factory=Environment)
    idle_w: float = 0.0
    charge_efficiency: float = 0.9
    nominal_voltage: float = 3.7
    t_s: float | None = None
    charge_w_now: float = 0.0
    load_w_now: float = 0.0
    _drawn_j: float = 0.0

    def __post_init__(self) -> None:
        if self.capacity_wh <= 0 or not 0.0 <= self.soc <= 1.0:
            raise ConfigError(
                f"battery needs capacity_wh > 0 and soc in [0, 1], got "
                f"{self.capacity_wh}, {self.soc}"
            )

    @property
    def capacity_j(self) -> float:
        """Capacity in joules."""
        return self.capacity_wh * 3600.0

    def _add_j(self, joules: float) -> None:
        self.soc = min(1.0, max(0.0, self.soc + joules / self.capacity_j))

    def draw(self, joules: float) -> None:
        """Take ``joules`` (reported by the stack) out of the battery now."""
        self._drawn_j += max(0.0, joules)
        self._add_j(-max(0.0, joules))

    def advance(self, t_s: float) -> None:
        """Integrate idle load and charging up to ``t_s`` (the first call only sets the time)."""
        if self.t_s is None or t_s <= self.t_s:
            if self.t_s is None:
                self.t_s = t_s
            return
        span = t_s - self.t_s
        steps = max(1, math.ceil(span / _SUBSTEP_S))
        dt = span / steps
        charged = 0.0
        for i in range(steps):
            mid = self.t_s + (i + 0.5) * dt
            charge = self.environment.charge_w(mid)
            charged += charge * dt
            self._add_j((charge * self.charge_efficiency - self.idle_w) * dt)
        self.charge_w_now = charged / span
        self.load_w_now = self.idle_w + self._drawn_j / span
        self._drawn_j = 0.0
        self.t_s = t_s

    @property
    def charging(self) -> bool:
        """Whether the charge coming in exceeds the load (over the last step)."""
        return self.charge_w_now * self.charge_efficiency > self.load_w_now and self.soc < 1.0

    @property
    def charge_ah(self) -> float:
        """Stored charge in ampere-hours at the nominal voltage."""
        return self.soc * self.capacity_wh / self.nominal_voltage
