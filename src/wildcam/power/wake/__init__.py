"""Wake sources: what brings a watching or sleeping trap back, behind one Protocol
(:class:`WakeSource`), keyed by name.

``rtc``            the Linux RTC wake alarm (``/sys/class/rtc/rtcN/wakealarm``) plus a halt or
                   suspend command (:mod:`.rtc`);
``simulated_rtc``  records the alarm and the sleeps, and says when to wake (simulated runs);
``gpiod_pir``      a PIR on a GPIO line, read with libgpiod v2 (:mod:`.pir`);
``simulated_pir``  a PIR fed with edge times (tests, the synthetic scene).

The real backends are tested against a fake sysfs tree and a fake ``gpiod.request_lines``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, overload

from wildcam.errors import ConfigError
from wildcam.power.wake.base import Clock, WakeEvent, WakeSource
from wildcam.power.wake.pir import (
    PIR_BACKENDS,
    GpiodPir,
    HoldOff,
    PirConfig,
    SimulatedPir,
    parse_edges,
)
from wildcam.power.wake.rtc import RTC_BACKENDS, RtcConfig, SimulatedRtc, SysfsRtc, run_command

__all__ = [
    "BACKENDS",
    "PIR_BACKENDS",
    "RTC_BACKENDS",
    "Clock",
    "GpiodPir",
    "HoldOff",
    "PirConfig",
    "RtcConfig",
    "SimulatedPir",
    "SimulatedRtc",
    "SysfsRtc",
    "WakeEvent",
    "WakeSource",
    "make_wake_source",
    "run_command",
]


def _simulated_pir(config: PirConfig, clock: Clock) -> SimulatedPir:
    return SimulatedPir(clock, parse_edges(config.simulated_edges), relative=True)


BACKENDS: dict[str, Callable[[Any, Clock], WakeSource]] = {
    "rtc": lambda c, clock: SysfsRtc(c, clock),
    "simulated_rtc": lambda c, clock: SimulatedRtc(c, clock),
    "gpiod_pir": lambda c, clock: GpiodPir(c, clock),
    "simulated_pir": _simulated_pir,
}


@overload
def make_wake_source(config: RtcConfig, clock: Clock = ...) -> SysfsRtc | SimulatedRtc: ...


@overload
def make_wake_source(config: PirConfig, clock: Clock = ...) -> WakeSource: ...


def make_wake_source(config: RtcConfig | PirConfig, clock: Clock = time.time) -> WakeSource:
    """Open the backend ``config.backend``, stamping events on ``clock``."""
    try:
        factory = BACKENDS[config.backend]
    except KeyError:
        raise ConfigError(
            f"unknown wake source {config.backend!r}; one of {', '.join(BACKENDS)}"
        ) from None
    return factory(config, clock)
