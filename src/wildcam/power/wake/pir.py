"""A PIR motion sensor on a GPIO line, read with the libgpiod v2 Python bindings, and a
simulated PIR fed with edge times.

The line is requested as an input with edge detection and the kernel's debounce
(``LineSettings.debounce_period``; gpiolib debounces in software where the chip cannot).
Edge events carry ``timestamp_ns`` on CLOCK_MONOTONIC (libgpiod's default event clock); it is
converted to the caller's clock (the ROS node clock, possibly simulated) by the event's age:
``t = clock() - (monotonic_now - timestamp)``, read together right after the events. The
realtime event clock would tie stamps to the system clock instead, which NTP steps and which
is not the clock of a simulated run. Edges are of the logical value
(``include/uapi/linux/gpio.h``: rising is "inactive to active"), so with ``active_low`` a
rising edge is still "became active".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from wildcam.errors import ConfigError, DeviceError
from wildcam.params import check_ranges, param
from wildcam.power.wake.base import Clock, WakeEvent

__all__ = [
    "PIR_BACKENDS",
    "GpiodPir",
    "HoldOff",
    "PirConfig",
    "SimulatedPir",
    "edge_time_s",
    "parse_edges",
]

PIR_BACKENDS = ("gpiod_pir", "simulated_pir")
BIASES = ("pull_down", "pull_up", "disabled", "as_is")


@dataclass(frozen=True)
class PirConfig:
    """The ``pir_trigger`` node's parameters."""

    backend: str = param(
        "gpiod_pir",
        "PIR on a GPIO line (libgpiod) or a simulated one fed with edge times.",
        choices=PIR_BACKENDS,
        read_only=True,
    )
    chip: str = param("/dev/gpiochip0", "GPIO chip device of the PIR line.", read_only=True)
    line: str = param(
        "17",
        "Line offset or name on the chip (BCM number on a Pi: 17 = header pin 11).",
        read_only=True,
    )
    bias: str = param(
        "pull_down",
        "Internal bias of the line (a PIR drives its output; the "
        "pull-down keeps an unplugged line inactive).",
        choices=BIASES,
        read_only=True,
    )
    active_low: bool = param(False, "The PIR output is active low.", read_only=True)
    both_edges: bool = param(
        True, "Also report the end of each PIR pulse (active false).", read_only=True
    )
    debounce_ms: float = param(
        5.0, "Kernel debounce period of the line.", min=0.0, max=1000.0, read_only=True
    )
    hold_off_s: float = param(
        1.0,
        "Rising edges sooner than this after the last published "
        "one are dropped (PIR re-triggers).",
        min=0.0,
        max=3600.0,
    )
    simulated_edges: str = param(
        "",
        "Simulated PIR: 'on[-off], ...' in seconds after the "
        "node started (node clock; with use_sim_time, after the "
        "first /clock), e.g. '5-8, 20'.",
        read_only=True,
    )
    wait_s: float = param(
        0.5,
        "Longest wait for edges before the reader checks for shutdown (wall).",
        min=0.01,
        max=10.0,
        read_only=True,
    )

    def __post_init__(self) -> None:
        check_ranges(self)
        parse_edges(self.simulated_edges)


def parse_edges(text: str) -> list[tuple[float, bool]]:
    """``'5-8, 20'`` -> ``[(5, True), (8, False), (20, True)]`` (sorted); bad text: ConfigError."""
    edges: list[tuple[float, bool]] = []
    for chunk in (c.strip() for c in text.split(",")):
        if not chunk:
            continue
        on, sep, off = chunk.partition("-")
        try:
            start = float(on)
            end = float(off) if sep else None
        except ValueError:
            raise ConfigError(f"simulated edge {chunk!r} is not 'on[-off]' seconds") from None
        if start < 0 or (end is not None and end <= start):
            raise ConfigError(f"simulated edge {chunk!r}: need 0 <= on < off")
        edges.append((start, True))
        if end is not None:
            edges.append((end, False))
    return sorted(edges)


def edge_time_s(timestamp_ns: int, monotonic_now_ns: int, clock_now_s: float) -> float:
    """A CLOCK_MONOTONIC edge timestamp on the caller's clock, by the edge's age."""
    return clock_now_s - (monotonic_now_ns - timestamp_ns) * 1e-9


class HoldOff:
    """Drops a rising edge that comes within ``hold_off_s`` of the last one let through, and the
    falling edge that ends a dropped pulse; the edges of a pulse let through all pass."""

    def __init__(self, hold_off_s: float) -> None:
        self.hold_off_s = hold_off_s
        self._last_on: float | None = None
        self._passing = False

    def accept(self, event: WakeEvent) -> bool:
        """Whether to publish ``event``."""
        if not event.active:
            passed, self._passing = self._passing, False
            return passed
        if self._last_on is not None and event.t_s - self._last_on < self.hold_off_s:
            self._passing = False
            return False
        self._last_on, self._passing = event.t_s, True
        return True


class GpiodPir:
    """A PIR on a GPIO line via libgpiod v2 (``gpiod.request_lines``).

    ``request_lines`` is ``gpiod.request_lines`` unless a test passes a fake with its API
    (this host has no ``/dev/gpiochip``); ``monotonic_ns`` is the clock edge stamps are on.
    """

    name = "gpiod_pir"

    def __init__(
        self,
        config: PirConfig,
        clock: Clock = time.time,
        request_lines: Callable[..., Any] | None = None,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        import gpiod  # only where a PIR is read
        from gpiod.line import Bias, Direction, Edge
        from gpiod.line import Clock as EventClock

        self.config, self.clock, self.monotonic_ns = config, clock, monotonic_ns
        self._gpiod = gpiod
        self._request_lines = request_lines or gpiod.request_lines
        self.line: int | str = int(config.line) if config.line.isdigit() else config.line
        self.settings = gpiod.LineSettings(
            direction=Direction.INPUT,
            edge_detection=Edge.BOTH if config.both_edges else Edge.RISING,
            bias=Bias[config.bias.upper()],
            active_low=config.active_low,
            debounce_period=timedelta(milliseconds=config.debounce_ms),
            event_clock=EventClock.MONOTONIC,
        )
        self._request: Any = None

    def arm(self, wake_at_s: float | None = None) -> None:
        """Request the line with edge detection (``wake_at_s`` is ignored)."""
        if self._request is not None:
            return
        try:
            self._request = self._request_lines(
                self.config.chip, consumer="wildcam-pir", config={self.line: self.settings}
            )
        except (OSError, ValueError) as err:
            raise DeviceError(
                f"cannot request PIR line {self.config.line} on {self.config.chip}: {err}"
            ) from err

    def disarm(self) -> None:
        """Release the line."""
        if self._request is not None:
            self._request.release()
            self._request = None

    def poll(self, timeout_s: float = 0.0) -> list[WakeEvent]:
        """Wait up to ``timeout_s`` for edges; return them on the caller's clock."""
        if self._request is None:
            return []
        try:
            if not self._request.wait_edge_events(timeout_s):
                return []
            events = self._request.read_edge_events()
        except OSError as err:
            raise DeviceError(f"reading PIR line {self.config.line}: {err}") from err
        mono, now = self.monotonic_ns(), self.clock()
        rising = self._gpiod.EdgeEvent.Type.RISING_EDGE
        return [
            WakeEvent(edge_time_s(e.timestamp_ns, mono, now), "pir", e.event_type == rising)
            for e in events
        ]

    def close(self) -> None:
        """Release the line."""
        self.disarm()


class SimulatedPir:
    """A PIR whose edges are given: at start (``edges``, clock seconds, or seconds after the
    first nonzero clock reading with ``relative``: a simulated clock reads 0 until its first
    ``/clock``) or later (:meth:`push`, e.g. from the synthetic scene's ground truth). ``poll``
    returns those the clock has reached; a disarmed PIR drops its edges, as one whose power is
    cut."""

    name = "simulated_pir"

    def __init__(
        self,
        clock: Clock = time.time,
        edges: Iterable[tuple[float, bool]] = (),
        relative: bool = False,
    ) -> None:
        self.clock = clock
        self._pending = sorted(edges)
        self._relative = relative
        self.armed = False

    def _anchor(self) -> None:
        now = self.clock()
        if self._relative and now > 0:
            self._pending = [(now + t, active) for t, active in self._pending]
            self._relative = False

    def push(self, t_s: float, active: bool = True) -> None:
        """An edge at ``t_s`` (clock seconds)."""
        self._pending.append((t_s, active))
        self._pending.sort()

    def arm(self, wake_at_s: float | None = None) -> None:
        """Start reporting edges."""
        self.armed = True
        self._anchor()

    def disarm(self) -> None:
        """Stop reporting edges."""
        self.armed = False

    def poll(self, timeout_s: float = 0.0) -> list[WakeEvent]:
        """Edges due by now; with none due, wait up to ``timeout_s`` (wall, 50 ms steps)."""
        end = time.monotonic() + timeout_s
        while True:
            self._anchor()
            now = self.clock() if not self._relative else -math.inf
            due = [e for e in self._pending if e[0] <= now]
            if due or time.monotonic() >= end:
                break
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))
        self._pending = self._pending[len(due) :]
        return [WakeEvent(t, "pir", active) for t, active in due] if self.armed else []

    def close(self) -> None:
        """Nothing to free."""
