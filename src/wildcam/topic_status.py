"""Frequency and timestamp status of a topic, as diagnostic_updater's ``FrequencyStatus`` and
``TimeStampStatus`` report them, without ROS.

A node ticks :class:`TopicStatus` for each message it publishes or takes (with the message's
header stamp and the node clock's time) and reports :meth:`TopicStatus.report` once per
diagnostics period: the rate over a sliding window of reports against the rate expected now, and
the earliest and latest stamp delays since the last report against the acceptable ones.
Levels are diagnostic_msgs' (OK 0, WARN 1, ERROR 2).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ERROR", "OK", "WARN", "TopicReport", "TopicStatus"]

OK, WARN, ERROR = 0, 1, 2

Expected = Callable[[], "tuple[float, float] | None"]
"""The acceptable (min, max) rate in Hz now; ``None`` when no rate is expected (camera asleep)."""


@dataclass(frozen=True)
class TopicReport:
    """One report: the worst level, its message, and diagnostic_updater's key/values."""

    level: int
    message: str
    values: tuple[tuple[str, str], ...]


class TopicStatus:
    """Counts messages on one topic and judges their rate and stamp delays.

    ``window`` reports make the rate's window (diagnostic_updater's default 5); ``tolerance``
    widens the expected range (0.1: 10 %); stamp delays outside ``[min_delay_s, max_delay_s]``
    warn (diagnostic_updater's defaults -1 s and 5 s).
    """

    def __init__(
        self,
        expected: Expected = lambda: None,
        window: int = 5,
        tolerance: float = 0.1,
        min_delay_s: float = -1.0,
        max_delay_s: float = 5.0,
    ) -> None:
        self.expected = expected
        self.tolerance = tolerance
        self.min_delay_s, self.max_delay_s = min_delay_s, max_delay_s
        self.count = 0
        self._history: deque[tuple[float, int]] = deque(maxlen=window + 1)
        self._delays: list[float] = []
        self._zero_stamps = 0

    def tick(self, stamp_s: float | None, now_s: float) -> None:
        """One message with header stamp ``stamp_s`` (``None``: no stamp to judge) at ``now_s``."""
        self.count += 1
        if stamp_s is None:
            return
        if stamp_s == 0.0:
            self._zero_stamps += 1
        else:
            self._delays.append(now_s - stamp_s)

    def report(self, now_s: float) -> TopicReport:
        """The status now; starts the next stamp-delay interval."""
        self._history.append((now_s, self.count))
        first_s, first_count = self._history[0]
        events, window_s = self.count - first_count, now_s - first_s
        rate = events / window_s if window_s > 0 else 0.0
        values = [
            ("events in window", str(events)),
            ("events since startup", str(self.count)),
            ("duration of window (s)", f"{window_s:.2f}"),
            ("actual frequency (Hz)", f"{rate:.2f}"),
        ]
        found = [self._frequency(rate, events, window_s, values), self._stamps(values)]
        level = max(lv for lv, _ in found)
        message = "; ".join(msg for lv, msg in found if lv == level and msg)
        self._delays, self._zero_stamps = [], 0
        return TopicReport(level, message, tuple(values))

    def _frequency(
        self, rate: float, events: int, window_s: float, values: list[tuple[str, str]]
    ) -> tuple[int, str]:
        expected = self.expected()
        if expected is None:
            return OK, "no rate expected now"
        low, high = expected
        values += [
            ("minimum acceptable frequency (Hz)", f"{low:.2f}"),
            ("maximum acceptable frequency (Hz)", f"{high:.2f}"),
        ]
        if window_s <= 0:
            return OK, "desired frequency not measured yet"
        if events == 0:
            return ERROR, "no events recorded"
        if rate < low * (1 - self.tolerance):
            return WARN, "frequency too low"
        if rate > high * (1 + self.tolerance):
            return WARN, "frequency too high"
        return OK, "desired frequency met"

    def _stamps(self, values: list[tuple[str, str]]) -> tuple[int, str]:
        if self._delays:
            values += [
                ("earliest timestamp delay (s)", f"{min(self._delays):.3f}"),
                ("latest timestamp delay (s)", f"{max(self._delays):.3f}"),
            ]
        if self._zero_stamps:
            return ERROR, "zero timestamp seen"
        if any(d < self.min_delay_s for d in self._delays):
            return WARN, "timestamps too far in future seen"
        if any(d > self.max_delay_s for d in self._delays):
            return WARN, "timestamps too far in past seen"
        return OK, ""
