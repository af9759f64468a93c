"""The camera driver's managed-node logic without ROS: which lifecycle transition ``enabled``
asks for, the rate its diagnostics expect, the capture stamp and the calibration note.

The camera is a managed node (configure opens, activate streams, deactivate releases). A
lifecycle manager (``wildcam bringup``, the launch file, the power manager) drives it through
``change_state``; ``enabled`` set by hand still works: false deactivates, true activates again
what ``enabled`` deactivated (never what a lifecycle manager deactivated). No rclpy here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from wildcam.camera.base import CameraSource, Frame
from wildcam.camera.calibration import Calibration
from wildcam.camera.capture import CameraConfig
from wildcam.camera.registry import make_source
from wildcam.errors import WildcamError

__all__ = [
    "EnabledFollow",
    "SourceHolder",
    "calibration_note",
    "capture_stamp_ns",
    "expected_rate",
]

Transition = Literal["activate", "deactivate"]


@dataclass
class EnabledFollow:
    """Follows the ``enabled`` parameter with lifecycle transitions of the node itself."""

    asleep: bool = False  # deactivated because ``enabled`` went false

    def start(self, enabled: bool) -> list[str]:
        """``autostart``: configure, and activate unless disabled."""
        self.asleep = not enabled
        return ["configure"] + ([] if self.asleep else ["activate"])

    def changed(self, enabled: bool, lifecycle: str) -> Transition | None:
        """``enabled`` changed while in ``lifecycle``: the transition to trigger, if any."""
        if not enabled and lifecycle == "active":
            self.asleep = True
            return "deactivate"
        if enabled and self.asleep:
            self.asleep = False
            return "activate" if lifecycle == "inactive" else None
        return None


def expected_rate(cfg: CameraConfig, lifecycle: str) -> tuple[float, float] | None:
    """The reduced stream's expected (min, max) rate: ``fps`` while streaming (active, enabled,
    not in trigger mode); asleep or between trigger bursts none is expected."""
    streaming = lifecycle == "active" and cfg.enabled and not cfg.trigger_mode
    return (cfg.fps, cfg.fps) if streaming else None


def capture_stamp_ns(now_ns: int, age_s: float) -> int:
    """The node-clock time a frame ``age_s`` old was captured (never before 0)."""
    return max(0, now_ns - int(age_s * 1e9))


def calibration_note(cal: Calibration, width: int, height: int) -> str:
    """Whether ``cal`` applies to ``width`` x ``height`` frames, for the node's diagnostics."""
    if cal.matches(width, height):
        return "applied"
    return (
        f"{cal.width}x{cal.height} does not match {width}x{height} frames: published uncalibrated"
    )


def open_source(cfg: CameraConfig) -> CameraSource:
    """The source ``cfg`` names (raises :class:`WildcamError` when it cannot be opened)."""
    return make_source(
        cfg.source,
        uri=cfg.uri,
        width=cfg.width,
        height=cfg.height,
        fps=cfg.fps,
        seed=cfg.seed,
        loop=cfg.loop,
    )


class SourceHolder:
    """The open source, if any: opened on demand, retried no sooner than ``reopen_period_s``
    after a failed open, closed on release; remembers the end of a finite stream."""

    def __init__(self, opener: Callable[[CameraConfig], CameraSource] = open_source) -> None:
        self.opener = opener
        self.source: CameraSource | None = None
        self.finished = False
        self.retry_at_s = float("-inf")
        self.opens = 0

    def open(self, cfg: CameraConfig, now_s: float) -> CameraSource | None:
        """The open source, opening it if due; raises the open's error (retried later)."""
        if self.source is None and now_s >= self.retry_at_s:
            try:
                self.source = self.opener(cfg)
            except WildcamError:
                self.retry_at_s = now_s + cfg.reopen_period_s
                raise
            self.opens += 1
        return self.source

    def read(self) -> Frame | None:
        """One frame, or None at the end of the stream; a failing source is closed and its error
        raised (the next capture reopens it)."""
        assert self.source is not None
        try:
            frame = self.source.read()
        except WildcamError:
            self.close()
            raise
        self.finished = frame is None
        return frame

    def close(self) -> bool:
        """Release the source; True when one was open."""
        if self.source is None:
            return False
        source, self.source = self.source, None
        source.close()
        return True
