"""Delays between attempts after consecutive failures (the uploader's requests, the fleet's MQTT
reconnects). Kept apart from the HTTP transport, so a node that only reconnects imports no
HTTP client."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Consecutive-failure delays: exponential, capped, with jitter in ``[d/2, d]``."""

    def __init__(self, base_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self.base_s, self.max_s = base_s, max_s
        self.failures = 0
        self._rng = rng or random.Random()

    def failure(self) -> float:
        """Count a failure; the delay before the next attempt."""
        self.failures += 1
        ceiling = min(self.max_s, self.base_s * 2.0 ** min(self.failures - 1, 60))
        return ceiling * (0.5 + 0.5 * self._rng.random())

    def success(self) -> None:
        """Reset after a success."""
        self.failures = 0
