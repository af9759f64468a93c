"""The run's plan: options in, the scene and every node's parameters out (no ROS, no writes).

Time: the scene has ``duration_s`` seconds at ``fps``, played at ``speed`` scene seconds per
wall second; the day preset compresses 24 h into ``day_length_s`` of them, so one scene second
is ``time_scale = 86400 / day_length_s`` simulated seconds. The camera, motion gate, cascade and
uploader run on wall time (the camera at ``fps × speed``); the power source and manager run on
the simulated clock (``sim_clock``) at ``speed × time_scale``, started paused and set going
when the camera wakes, so solar curve, dwell times and battery drain follow the scene's day.
The scene runs on from the moment the camera wakes (the camera reads the frame due, also after
it was closed), so the per-mode camera rate is left out of the run's power policy: scene time
and simulated time stay together; every other per-mode and per-state setting applies.

Device states: the day preset's trap is a Pi 5 (an RTC alarm wakes it from a halt) run as a
trail camera (:data:`DAY_STATES`): in watch, camera closed, through the active hours; warm for
a while after each PIR trigger or motion; halted at night outside the schedule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wildcam.camera.scene import SceneConfig
from wildcam.config_check import check_node_names
from wildcam.errors import ConfigError
from wildcam.graph import NODES, NodeSpec
from wildcam.params import parse_assignments
from wildcam.rosenv import config_dir
from wildcam.types import DAY_S

__all__ = [
    "CAMERA_HELD",
    "DAY_DEVICE",
    "DAY_STATES",
    "SIM_BATTERY",
    "START_EPOCH",
    "WARM_HOLD_SCENE_S",
    "Endpoints",
    "RunOptions",
    "Timing",
    "held_policy",
    "node_overrides",
    "node_parameters",
    "role",
    "run_scene",
    "run_specs",
    "timing",
    "wanted_parameters",
]

START_EPOCH = 1_782_000_000  # 2026-06-21 00:00 UTC: midsummer midnight, the day's reference


@dataclass(frozen=True)
class RunOptions:
    """What ``wildcam run`` plays and where it sends things (the CLI flags; their defaults)."""

    preset: str = "day"
    seed: int = 0
    speed: float = 2.0
    duration_s: float | None = None  # scene seconds to play (default: all of it)
    day_length_s: float | None = None  # the day preset's compression (default 240 s)
    out: Path = Path("out")
    source: str = "synthetic"  # or file / folder / device: no ground truth then
    uri: str = ""  # video file, image folder or V4L2 device for those sources
    gateway_url: str = ""  # "" = start a local gateway
    token_file: str = ""
    params: tuple[str, ...] = ()  # "node.param=value" overrides, last word
    wall_limit_s: float | None = None  # stop playing after this long (default: from the scene)
    keep_gateway: bool = False  # serve the review page after the run until Ctrl-C
    with_nodes: tuple[str, ...] = ()  # on-request nodes to start too (wildcam bringup --with)

    @property
    def synthetic(self) -> bool:
        """Whether the run plays a synthetic scene (with ground truth)."""
        return self.source == "synthetic"

    @property
    def day(self) -> bool:
        """Whether the run plays the day preset (its device and states)."""
        return self.synthetic and self.preset == "day"


SIM_BATTERY = {"backend": "simulated", "initial_soc": 0.45, "solar_peak_w": 8.0}
"""The battery of a synthetic run: 37 Wh, 45 % at the start, a 10 W panel (8 W at noon), so
the day shows the modes follow the battery down at night and up with the sun."""

CAMERA_HELD = ("fps",)
"""Camera settings a synthetic run keeps out of the power policy: the camera reads the scene at
its rate (times the run's speed), so scene and simulated time agree."""

DAY_DEVICE = "rpi5"
"""The day preset's device: a Pi 5, whose RTC alarm wakes it from a halt (all three states)."""

DAY_STATES: dict[str, Any] = {"schedule": "04:00-23:00", "idle_state": "watch"}
"""The day preset's device-state policy: a trail camera, closed in watch and called by the PIR
through the active hours, halted from 23:00 to 04:00 until the RTC wakes it."""

WARM_HOLD_SCENE_S = 3.0
"""Scene seconds the trap stays warm after a PIR trigger or the last frame decided animal."""


@dataclass(frozen=True)
class Timing:
    """How scene time maps onto wall and simulated time."""

    fps: float  # the scene's frame rate (0 for a real source until its parameters say)
    frames: int  # frames the scene has (0: a real source, counted as it plays)
    time_scale: float = 1.0  # simulated seconds per scene second
    day_start: float = 0.0  # fraction of a day at scene second 0


@dataclass(frozen=True)
class Endpoints:
    """Where the run put what the nodes need: the scene file, the gateway, the state."""

    scene_uri: str  # the scene file (synthetic) or the real source's URI
    gateway_url: str
    token_file: str
    state_dir: Path  # queues, OTA state, the power manager's state
    policy_file: str = ""  # the run's power policy (see held_policy); "" keeps the package's


def run_scene(options: RunOptions) -> SceneConfig:
    """The scene a synthetic run plays (the preset, its day length, cut to ``duration_s``)."""
    from wildcam.camera.presets import scene_preset, truncate_scene

    if options.preset == "day":
        scene = scene_preset("day", options.seed, options.day_length_s)
    else:
        if options.day_length_s is not None:
            raise ConfigError("--day-length applies to the day preset only")
        scene = scene_preset(options.preset, options.seed)
    if options.duration_s is not None:
        scene = truncate_scene(scene, options.duration_s)
    return scene


def timing(scene: SceneConfig | None) -> Timing:
    """The run's time mapping for ``scene`` (None: a real source, on real time)."""
    if scene is None:
        return Timing(fps=0.0, frames=0)
    frames = scene.n_frames
    if not scene.day_length_s:
        return Timing(fps=scene.fps, frames=frames)
    return Timing(
        fps=scene.fps,
        frames=frames,
        time_scale=DAY_S / scene.day_length_s,
        day_start=scene.day_start,
    )


def role(spec: NodeSpec, topic: str, direction: str = "publishes") -> bool:
    """Whether ``spec`` publishes (or subscribes, ``direction``) ``topic``."""
    return any(t.lstrip("/") == topic for t, _ in getattr(spec, direction))


def run_specs(extra: Sequence[str] = ()) -> list[NodeSpec]:
    """The graph of a run: what ``wildcam bringup`` starts, the simulated clock, and the
    ``extra`` on-request nodes (``--with``, e.g. ``mqtt_bridge`` with a broker to talk to).
    Never the PIR reader: the run plays the scene's PIR itself. An unknown name is a
    ConfigError."""
    check_node_names(extra, "--with")
    return [
        s
        for s in NODES
        if not s.on_request
        or role(s, "clock")
        or (s.name in extra and not role(s, "camera/trigger"))
    ]


def held_policy() -> dict[str, Any]:
    """The package's power policy without the camera settings of :data:`CAMERA_HELD`."""
    data: dict[str, Any] = yaml.safe_load((config_dir() / "power_policy.yaml").read_text())
    for sets in data.get("modes", {}).values():
        camera = sets.get("camera_driver", {})
        for key in CAMERA_HELD:
            camera.pop(key, None)
    return data


def wanted_parameters(
    options: RunOptions, specs: Sequence[NodeSpec], time: Timing, where: Endpoints
) -> dict[str, dict[str, Any]]:
    """The values the run needs per node, by role (found through the node table's topics).

    With a simulated clock, the power source and manager run on it at ``time_scale`` ×
    ``speed`` (the simulated day: solar curve, dwell times, battery drain) while the camera,
    motion gate, cascade and uploader run on wall time at ``speed`` × the scene's rate.
    """
    sim_time = any(role(s, "clock") for s in specs)
    camera: dict[str, Any] = {
        "source": options.source,
        "uri": where.scene_uri,
        "loop": False,
        "enabled": False,
    }  # woken up once the recorder listens
    if options.synthetic:
        camera.update(
            seed=options.seed, fps=time.fps * options.speed, burst_fps=time.fps * options.speed
        )
    wanted: dict[str, dict[str, Any]] = {"camera_driver": camera}
    start_time = START_EPOCH + time.day_start * DAY_S
    for spec in specs:
        values = wanted.setdefault(spec.name, {})
        if role(spec, "clock"):  # paused until the camera starts (see RunSession)
            values.update(speed=0.0, start_time=start_time)
        if role(spec, "power/battery"):
            values.update(
                use_sim_time=sim_time,
                period_s=max(1.0, time.time_scale / 3),
                **(SIM_BATTERY if options.synthetic else {}),
            )
        if role(spec, "power/state"):
            values.update(
                use_sim_time=sim_time,
                update_period_s=min(60.0, max(1.0, time.time_scale / 6)),
                stale_after_s=max(120.0, time.time_scale),
                summary_period_s=600.0,
                state_file=str(where.state_dir / "power.json"),
            )
            if where.policy_file:
                values.update(policy_file=where.policy_file)
            if options.day:
                values.update(DAY_STATES, warm_hold_s=WARM_HOLD_SCENE_S * time.time_scale)
        if role(spec, "uploader/status"):
            values.update(
                gateway_url=where.gateway_url,
                token_file=where.token_file,
                queue_dir=str(where.state_dir / "queue"),
                ota_dir=str(where.state_dir / "ota"),
                batch_max_wait_s=2.0,
            )
    for node, values in parse_assignments(options.params).items():
        wanted.setdefault(node, {}).update(values)
    return wanted


def node_overrides(
    specs: Sequence[NodeSpec],
    defaults: Mapping[str, Mapping[str, Any]],
    wanted: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Keep the ``wanted`` parameter values each node declares; list the ones it lacks.

    ``wanted`` maps node name -> {param: value}; ``defaults`` is the node's declared parameters.
    """
    kept: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    names = {s.name for s in specs}
    for node, values in wanted.items():
        if node not in names:
            missing += [f"{node}.{k}" for k in values]
            continue
        declared = {*defaults.get(node, {}), "use_sim_time"}  # rclpy declares that one
        kept[node] = {k: v for k, v in values.items() if k in declared}
        missing += [f"{node}.{k}" for k in values if k not in declared]
    return kept, missing


def node_parameters(
    options: RunOptions,
    specs: Sequence[NodeSpec],
    defaults: Mapping[str, Mapping[str, Any]],
    wanted: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every node's parameters for the run (its defaults, then what the run wants that it
    declares; the day preset runs every node with a power profile as the Pi 5), and the wanted
    values no node declares."""
    values = {node: dict(values) for node, values in wanted.items()}
    if options.day:
        for node, declared in defaults.items():
            if "power_profile" in declared:
                values.setdefault(node, {}).setdefault("power_profile", DAY_DEVICE)
    overrides, missing = node_overrides(specs, defaults, values)
    return {node: {**defaults[node], **overrides.get(node, {})} for node in defaults}, missing
