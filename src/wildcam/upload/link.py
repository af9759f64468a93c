"""Link quality: how good the uplink is right now, 0 (down) .. 1 (excellent).

Backends satisfy :class:`LinkQuality`: :class:`GatewayProbe` times a request to the gateway's
health endpoint (the real thing), :class:`SimulatedLink` plays a repeating profile of
``seconds:quality`` segments (tests and demos). :data:`LINK_BACKENDS` names them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from wildcam.errors import ConfigError, TransportError

__all__ = ["LINK_BACKENDS", "GatewayProbe", "LinkQuality", "SimulatedLink", "parse_link_profile"]

LINK_BACKENDS = ("probe", "simulated")


class LinkQuality(Protocol):
    """A source of link quality."""

    def quality(self) -> float:
        """The link quality now, 0..1."""


def parse_link_profile(text: str) -> tuple[tuple[float, float], ...]:
    """``'600:0.9,300:0.1'`` as (duration_s, quality) segments."""
    segments = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            duration, quality = (float(v) for v in part.split(":"))
        except ValueError:
            raise ConfigError(f"link profile segment {part!r} is not seconds:quality") from None
        if duration <= 0 or not 0.0 <= quality <= 1.0:
            raise ConfigError(f"link profile segment {part!r}: seconds > 0, quality in [0, 1]")
        segments.append((duration, quality))
    if not segments:
        raise ConfigError("link profile is empty")
    return tuple(segments)


class SimulatedLink:
    """A repeating link profile on a clock (seconds since the link was made)."""

    def __init__(self, profile: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.segments = parse_link_profile(profile)
        self.period = sum(d for d, _ in self.segments)
        self._clock = clock
        self._start = clock()

    def quality(self) -> float:
        """The quality of the segment the clock is in."""
        t = (self._clock() - self._start) % self.period
        for duration, quality in self.segments:
            if t < duration:
                return quality
            t -= duration
        return self.segments[-1][1]


class _Probeable(Protocol):
    def probe(self) -> float: ...


class GatewayProbe:
    """Times the gateway's health endpoint: quality falls linearly from 1 to 0 as the round trip
    goes from ``good_s`` to ``timeout_s``; unreachable is 0."""

    def __init__(self, transport: _Probeable, timeout_s: float, good_s: float = 0.2) -> None:
        self._transport = transport
        self._timeout_s = timeout_s
        self._good_s = min(good_s, timeout_s / 2)

    def quality(self) -> float:
        """Probe once."""
        try:
            latency = self._transport.probe()
        except TransportError:
            return 0.0
        if latency <= self._good_s:
            return 1.0
        return max(0.0, 1.0 - (latency - self._good_s) / (self._timeout_s - self._good_s))
