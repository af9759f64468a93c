"""When the uploader may switch the radio on: power, time window, link quality, energy budget.

:func:`decide` is a pure function of the live parameters and the current facts; it answers an
:class:`Decision` with the reason uploads are held, so the status can say why nothing moves.
:class:`EnergyBudget` counts the radio joules of the current UTC day.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Protocol

from wildcam.errors import ConfigError
from wildcam.types import DAY_S

__all__ = [
    "Decision",
    "EnergyBudget",
    "PolicyParams",
    "PowerFacts",
    "decide",
    "in_windows",
    "parse_windows",
]

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_windows(text: str) -> tuple[tuple[int, int], ...]:
    """``'22:00-06:00,12:00-12:30'`` as (start, end) minute-of-day pairs; ``''`` is none.

    A window whose end is before its start wraps over midnight.
    """
    windows = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _WINDOW.match(part)
        if not match:
            raise ConfigError(f"time window {part!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 != 0):
            raise ConfigError(f"time window {part!r} is not a time of day")
        windows.append((h1 * 60 + m1, h2 * 60 + m2))
    return tuple(windows)


def in_windows(windows: tuple[tuple[int, int], ...], unix_s: float) -> bool:
    """Whether UTC time ``unix_s`` lies in one of ``windows`` (always true when there are none)."""
    if not windows:
        return True
    minute = (unix_s % DAY_S) / 60.0
    for start, end in windows:
        if start <= end and start <= minute < end:
            return True
        if start > end and (minute >= start or minute < end):
            return True
    return False


class PolicyParams(Protocol):
    """The parameters :func:`decide` reads (an :class:`~wildcam.upload.config.UploaderConfig`)."""

    @property
    def enabled(self) -> bool: ...
    @property
    def only_on_charger(self) -> bool: ...
    @property
    def min_battery(self) -> float: ...
    @property
    def daily_energy_budget_j(self) -> float: ...
    @property
    def min_link_quality(self) -> float: ...
    @property
    def windows(self) -> str: ...


@dataclass(frozen=True)
class PowerFacts:
    """What the power manager last said: battery fraction (NaN unknown) and charging."""

    battery: float = math.nan
    charging: bool = False


@dataclass(frozen=True)
class Decision:
    """Whether to upload now, and if not, why."""

    allowed: bool
    reason: str = ""


class EnergyBudget:
    """Radio joules spent in the current UTC day (resets at midnight UTC)."""

    def __init__(self) -> None:
        self.day = -1
        self.spent_j = 0.0

    def _roll(self, unix_s: float) -> None:
        day = int(unix_s // DAY_S)
        if day != self.day:
            self.day, self.spent_j = day, 0.0

    def spent(self, unix_s: float) -> float:
        """Joules spent today."""
        self._roll(unix_s)
        return self.spent_j

    def add(self, unix_s: float, joules: float) -> None:
        """Charge ``joules`` to the day of ``unix_s``."""
        self._roll(unix_s)
        self.spent_j += joules


def decide(
    params: PolicyParams,
    unix_s: float,
    power: PowerFacts,
    spent_today_j: float,
    link_quality: float | None = None,
) -> Decision:
    """May the uploader send now? ``link_quality`` None means not measured yet (not checked)."""
    if not params.enabled:
        return Decision(False, "disabled")
    if params.only_on_charger and not power.charging:
        return Decision(False, "not charging")
    if not math.isnan(power.battery) and power.battery < params.min_battery:
        return Decision(False, f"battery {power.battery:.2f} < {params.min_battery:.2f}")
    if not in_windows(parse_windows(params.windows), unix_s):
        return Decision(False, "outside upload windows")
    if spent_today_j >= params.daily_energy_budget_j:
        return Decision(False, f"daily energy budget spent ({spent_today_j:.1f} J)")
    if link_quality is not None and link_quality < params.min_link_quality:
        return Decision(False, f"link quality {link_quality:.2f} < {params.min_link_quality:.2f}")
    return Decision(True)
