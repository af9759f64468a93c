"""What the camera driver does between frames, without ROS: its settings, trigger bursts, and
which full-resolution frames go downstream.

The reduced grey stream always flows to the motion gate. Full frames are expensive on the wire
and for whoever consumes them, so :class:`FullFrameGate` keeps the last few in a ring buffer and
releases them only around motion: the frames just before an event started, every frame while it
is open, and a few after it ended.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from wildcam.camera.base import Frame
from wildcam.camera.registry import SOURCE_KINDS
from wildcam.params import check_ranges, param
from wildcam.power.profile import power_profile_param

__all__ = ["FULL_FRAME_POLICIES", "CameraConfig", "FullFrameGate", "TriggerBurst"]

FULL_FRAME_POLICIES = ("motion", "always", "never")


@dataclass(frozen=True)
class CameraConfig:
    """The camera driver's parameters (ROS parameters of the ``camera_driver`` node)."""

    source: str = param("synthetic", "Frame source kind.", choices=SOURCE_KINDS, read_only=True)
    uri: str = param("", "Device path/index, video file, image folder, or synthetic preset "
                     "(default|empty|nuisance|day; '' = default).", read_only=True)
    seed: int = param(0, "Seed of the synthetic scene.", min=0, max=2**31 - 1, read_only=True)
    loop: bool = param(False, "Restart a file, folder or synthetic scene at its end.",
                       read_only=True)
    frame_id: str = param("camera", "frame_id of published headers.", read_only=True)
    fps: float = param(10.0, "Capture rate (live).", min=0.1, max=60.0)
    width: int = param(640, "Full-frame width in pixels (live).", min=16, max=4096)
    height: int = param(480, "Full-frame height in pixels (live).", min=16, max=4096)
    enabled: bool = param(True, "Capture at all (live); false puts the camera to sleep.")
    trigger_mode: bool = param(False, "Capture only bursts started by camera/trigger (live).")
    burst_frames: int = param(10, "Frames captured per trigger in trigger mode.", min=1, max=1000)
    reduce_factor: int = param(4, "Downscale factor of the grey stream for the motion gate.",
                               min=1, max=16)
    full_frames: str = param("motion", "When full frames are published on camera/image_raw.",
                             choices=FULL_FRAME_POLICIES)
    pre_event_frames: int = param(5, "Full frames before a motion event that are released.",
                                  min=0, max=100)
    post_event_frames: int = param(5, "Full frames released after a motion event ends.",
                                   min=0, max=100)
    reopen_period_s: float = param(2.0, "Seconds between attempts to reopen a failed source.",
                                   min=0.1, max=600.0)
    power_profile: str = power_profile_param()

    def __post_init__(self) -> None:
        check_ranges(self)


class TriggerBurst:
    """Trigger mode: each trigger arms ``burst_frames`` captures; without one, no capture."""

    def __init__(self) -> None:
        self.remaining = 0

    def trigger(self, frames: int) -> None:
        """A trigger fired: capture ``frames`` frames from now (a running burst is extended)."""
        self.remaining = max(self.remaining, frames)

    def take(self) -> bool:
        """Whether to capture on this tick (consumes one frame of the burst)."""
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


class FullFrameGate:
    """Decides which full frames are published: around motion only, always, or never.

    Frames are keyed by their header stamp (ns), which is how a motion event names the frame
    it was computed on; the ring holds a little more than ``pre_frames`` to cover the gate's
    latency.
    """

    _LATENCY_SLACK = 5

    def __init__(self, policy: str = "motion", pre_frames: int = 5, post_frames: int = 5) -> None:
        self._ring: deque[tuple[int, Frame]] = deque()
        self._open = False
        self._post_left = 0
        self._last_sent = -1
        self.configure(policy, pre_frames, post_frames)

    def configure(self, policy: str, pre_frames: int, post_frames: int) -> None:
        """Apply new settings; the ring keeps what still fits."""
        self.policy, self.pre_frames, self.post_frames = policy, pre_frames, post_frames
        self._trim()

    def _trim(self) -> None:
        while len(self._ring) > self.pre_frames + self._LATENCY_SLACK:
            self._ring.popleft()

    def _release(self, items: list[tuple[int, Frame]]) -> list[tuple[int, Frame]]:
        out = [(k, f) for k, f in items if k > self._last_sent]
        if out:
            self._last_sent = out[-1][0]
        return out

    def push(self, key: int, frame: Frame) -> list[tuple[int, Frame]]:
        """A frame stamped ``key`` was captured; return the ``(key, frame)`` pairs to publish."""
        self._ring.append((key, frame))
        self._trim()
        if self.policy == "always" or (self.policy == "motion" and self._open):
            return self._release([(key, frame)])
        if self.policy == "motion" and self._post_left > 0:
            self._post_left -= 1
            return self._release([(key, frame)])
        return []

    def motion(self, key: int, started: bool, ended: bool) -> list[tuple[int, Frame]]:
        """A motion event on the frame stamped ``key`` started or ended; return frames to send."""
        if self.policy != "motion":
            return []
        if started:
            self._open = True
            keys = [k for k, _ in self._ring]
            first = next((i for i, k in enumerate(keys) if k >= key), len(keys))
            return self._release(list(self._ring)[max(0, first - self.pre_frames):])
        if ended and self._open:
            self._open = False
            self._post_left = self.post_frames
        return []
