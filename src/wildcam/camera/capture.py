"""What the camera driver does between frames, without ROS: its settings, when it holds the device,
trigger bursts, and which full-resolution frames go downstream.

Device states (set by the power manager through ``enabled`` and ``trigger_mode``):

* **warm** (``trigger_mode`` false): the source is open and streams at ``fps``; a trigger
  takes a frame at once and publishes the next ``burst_frames`` as full frames;
* **watch** (``trigger_mode`` true): the source is closed; a ``camera/trigger`` opens it, a burst
  of ``burst_frames`` is captured at ``burst_fps`` and published as full frames, and the source
  is closed again ``release_after_s`` after the burst's last frame (:class:`CaptureControl`);
* **sleep** (``enabled`` false): nothing is captured and the source is closed at once.

The reduced grey stream always flows to the motion gate. Full frames are expensive on the wire
and for whoever consumes them, so :class:`FullFrameGate` keeps the last few in a ring buffer and
releases them only around motion: the frames just before an event started, every frame while it
is open, and a few after it ended.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from wildcam.camera.base import Frame
from wildcam.params import check_ranges, param, power_profile_param
from wildcam.types import SOURCE_KINDS

__all__ = [
    "FULL_FRAME_POLICIES",
    "CameraConfig",
    "CaptureControl",
    "FullFrameGate",
    "SceneClock",
    "TriggerBurst",
]

FULL_FRAME_POLICIES = ("motion", "always", "never")


@dataclass(frozen=True)
class CameraConfig:
    """The camera driver's parameters (ROS parameters of the ``camera_driver`` node)."""

    source: str = param("synthetic", "Frame source kind.", choices=SOURCE_KINDS, read_only=True)
    uri: str = param(
        "",
        "Device path/index, video file, image folder, or synthetic preset "
        "(default|empty|nuisance|day; '' = default).",
        read_only=True,
    )
    seed: int = param(0, "Seed of the synthetic scene.", min=0, max=2**31 - 1, read_only=True)
    loop: bool = param(
        False, "Restart a file, folder or synthetic scene at its end.", read_only=True
    )
    frame_id: str = param(
        "camera_optical_frame",
        "frame_id of published headers: the "
        "camera's optical frame (REP-103: z forward, x right, y down).",
        read_only=True,
    )
    camera_info_url: str = param(
        "",
        "Calibration file in camera_calibration's YAML format "
        "(file:///path, package://pkg/path or a path; '' = "
        "uncalibrated): fills D, K, R, P of both camera_info topics.",
        read_only=True,
    )
    hardware_id: str = param(
        "",
        "hardware_id of the node's /diagnostics statuses (e.g. the "
        "camera's serial number; '' = source:uri).",
        read_only=True,
    )
    held_dir: str = param(
        "",
        "Directory where a power controller holds the PIR bursts it captured while the SoC "
        "was off ('' = none): published first on activation, one at a time, stamped with "
        "their capture times, each removed once the motion gate and the cascade decided it.",
        read_only=True,
    )
    held_ack_timeout_s: float = param(
        10.0,
        "Seconds a held frame waits for its acknowledgements (motion/processed, "
        "detections/processed) before it is sent again (a stage restarted or a sample was "
        "lost); longer than the slowest frame's motion-plus-cascade time.",
        min=0.1,
        max=600.0,
    )
    held_max_sends: int = param(
        3,
        "Sends of a held frame without a decision before it is set aside in held_dir "
        "(.undecided-<name>, kept) so the drain goes on.",
        min=1,
        max=100,
    )
    compressed: bool = param(
        False,
        "Also publish each full frame JPEG-compressed on camera/image_raw/compressed (live).",
    )
    jpeg_quality: int = param(
        80, "JPEG quality of camera/image_raw/compressed (live).", min=1, max=100
    )
    fps: float = param(10.0, "Capture rate (live).", min=0.1, max=60.0)
    width: int = param(640, "Full-frame width in pixels (live).", min=16, max=4096)
    height: int = param(480, "Full-frame height in pixels (live).", min=16, max=4096)
    enabled: bool = param(
        True,
        "Capture at all (live); false puts the camera to sleep: the "
        "node deactivates itself (lifecycle) and releases the device.",
    )
    autostart: bool = param(
        True,
        "Configure and activate the managed node at start; false "
        "leaves the transitions to a lifecycle manager (bringup, the launch file).",
        read_only=True,
    )
    trigger_mode: bool = param(
        False,
        "Capture only bursts started by camera/trigger, camera "
        "closed in between (watch state; live).",
    )
    burst_frames: int = param(10, "Frames captured per trigger in trigger mode.", min=1, max=1000)
    burst_fps: float = param(10.0, "Capture rate of a trigger burst (live).", min=0.1, max=60.0)
    release_after_s: float = param(
        2.0,
        "Seconds the source stays open after a burst's last "
        "frame before it is released (trigger mode).",
        min=0.0,
        max=3600.0,
    )
    reduce_factor: int = param(
        4,
        "Downscale factor of the grey stream camera/small/image_raw "
        "for the motion gate (binning of camera/small/camera_info).",
        min=1,
        max=16,
    )
    full_frames: str = param(
        "motion",
        "When full frames are published on camera/image_raw (with camera/camera_info).",
        choices=FULL_FRAME_POLICIES,
    )
    pre_event_frames: int = param(
        5, "Full frames before a motion event that are released.", min=0, max=100
    )
    post_event_frames: int = param(
        5, "Full frames released after a motion event ends.", min=0, max=100
    )
    reopen_period_s: float = param(
        2.0, "Seconds between attempts to reopen a failed source.", min=0.1, max=600.0
    )
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


class CaptureControl:
    """Whether a tick captures, whether its frame is a burst frame, and whether the source should
    be held open (times: node clock).

    A trigger arms a burst of ``burst_frames`` full frames in warm and in watch. Warm
    (continuous capture) holds the source; watch holds it only from a trigger until
    ``release_after_s`` after the burst's last frame; a disabled camera (sleep) never holds it.
    """

    def __init__(self) -> None:
        self.burst = TriggerBurst()
        self.last_capture_s = -math.inf
        self.in_burst = False  # the last captured frame belongs to a trigger burst

    def trigger(self, cfg: CameraConfig) -> bool:
        """A trigger fired: arm a burst; True when a frame should be taken at once."""
        if not cfg.enabled:
            return False
        self.burst.trigger(cfg.burst_frames)
        return True

    def capture(self, cfg: CameraConfig, now_s: float) -> bool:
        """Whether this tick captures a frame (a burst frame is consumed). The first tick the
        camera is enabled always captures: it checks the sensor and marks where a scene's time
        starts (frame 0), in trigger mode too."""
        if not cfg.enabled:
            return False
        self.in_burst = self.burst.take()
        if cfg.trigger_mode and not self.in_burst and self.last_capture_s > -math.inf:
            return False
        self.last_capture_s = now_s
        return True

    def hold(self, cfg: CameraConfig, now_s: float) -> bool:
        """Whether the source should be open now."""
        if not cfg.enabled:
            return False
        if not cfg.trigger_mode or self.burst.remaining > 0:
            return True
        return now_s - self.last_capture_s < cfg.release_after_s

    def period_s(self, cfg: CameraConfig) -> float:
        """The capture timer's period: the burst rate in trigger mode, else ``fps``."""
        return 1.0 / (cfg.burst_fps if cfg.trigger_mode else cfg.fps)


class SceneClock:
    """Which frame a source with a timeline of its own (a synthetic scene) shows now: the scene
    runs on the node clock at the camera's ``fps`` from the first time the camera is enabled, and
    goes on while the camera is closed or late (a frame that is due is read, the ones passed are
    skipped, as a real camera drops them). ``fps`` may change on the way.
    """

    def __init__(self) -> None:
        self._last_s: float | None = None
        self._position = 0.0

    @property
    def started(self) -> bool:
        """Whether the scene's time runs (the camera was enabled once)."""
        return self._last_s is not None

    def index(self, now_s: float, fps: float) -> int:
        """The frame index due at ``now_s`` (0 at the first call)."""
        if self._last_s is not None:
            self._position += max(0.0, now_s - self._last_s) * fps
        self._last_s = now_s
        return round(self._position)


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

    def push(self, key: int, frame: Frame, force: bool = False) -> list[tuple[int, Frame]]:
        """A frame stamped ``key`` was captured; return the ``(key, frame)`` pairs to publish.

        ``force`` publishes it whatever the policy (a trigger burst's frame).
        """
        self._ring.append((key, frame))
        self._trim()
        if force or self.policy == "always" or (self.policy == "motion" and self._open):
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
            return self._release(list(self._ring)[max(0, first - self.pre_frames) :])
        if ended and self._open:
            self._open = False
            self._post_left = self.post_frames
        return []
