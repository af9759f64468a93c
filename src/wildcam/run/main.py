"""``wildcam run``: the whole graph plays a compressed day; a report says what happened.

Every node of the node table is started as ``wildcam bringup`` starts it (same YAML, each
node's output in ``<out>/logs``), in a ROS domain of the run's own, with: the camera on the
synthetic scene (sleeping until the recorder listens), the uploader on a local ``wildcam
gateway`` (127.0.0.1, its store in ``<out>/gateway``, a fresh token in the 0600 file
``<out>/gateway.token``; it serves the review page), the simulated battery. This process
records the report's topics into ``<out>/bag`` with the bag recorder, shows one live progress
line, and at the end writes ``ground_truth.json``, ``gateway.json`` (what the gateway
received), ``baseline.json`` (the always-on baseline, measured here) and ``report.html`` with
its figures into ``<out>``, and prints the report's summary; from the gateway's store it
exports ``camtrap-dp/`` (Camtrap DP) and ``detections.json`` (MegaDetector batch output).

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
a while after each PIR trigger or motion; halted at night outside the schedule. The scene's
PIR (:mod:`wildcam.camera.pir`) drives ``camera/trigger`` from this process, at the scene times
of its edges.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from wildcam.bringup import Supervisor, clean_shared_memory
from wildcam.camera.pir import pir_outcomes
from wildcam.camera.scene import SceneConfig, scene_to_dict
from wildcam.camera.synthetic import SyntheticScene
from wildcam.config_check import check_sources
from wildcam.docs import default_parameters
from wildcam.errors import EXIT_FAILED, EXIT_USAGE, ConfigError, TransportError, WildcamError
from wildcam.graph import NODES, NodeSpec
from wildcam.params import parse_assignments
from wildcam.rosenv import claim_domain, config_dir, ros_environment
from wildcam.types import DAY_S

if TYPE_CHECKING:
    from wildcam.report.data import RunData

__all__ = ["RunOptions", "node_overrides", "run_demo", "run_scene"]

START_EPOCH = 1_782_000_000  # 2026-06-21 00:00 UTC: midsummer midnight, the day's reference
SETTLE_S = 20.0  # at most this long after the last frame for the queue and energy to drain


@dataclass(frozen=True)
class RunOptions:
    """What ``wildcam run`` plays and where it sends things (the CLI flags)."""

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


def _role(spec: NodeSpec, topic: str, direction: str = "publishes") -> bool:
    return any(t.lstrip("/") == topic for t, _ in getattr(spec, direction))


def node_overrides(specs: Sequence[NodeSpec], defaults: Mapping[str, Mapping[str, Any]],
                   wanted: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, dict[str, Any]],
                                                                     list[str]]:
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


def run_policy(directory: Path) -> Path:
    """The package's power policy without the camera settings of :data:`CAMERA_HELD`."""
    data = yaml.safe_load((config_dir() / "power_policy.yaml").read_text())
    for sets in data.get("modes", {}).values():
        camera = sets.get("camera_driver", {})
        for key in CAMERA_HELD:
            camera.pop(key, None)
    path = directory / "power_policy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _wanted(options: RunOptions, specs: Sequence[NodeSpec], scene_uri: str, fps: float,
            time_scale: float, start_time: float, gateway_url: str, token_file: str,
            tmp: Path) -> dict[str, dict[str, Any]]:
    """The values the run needs per node, by role (found through the node table's topics).

    With a simulated clock, the power source and manager run on it at ``time_scale`` ×
    ``speed`` (the simulated day: solar curve, dwell times, battery drain) while the camera,
    motion gate, cascade and uploader run on wall time at ``speed`` × the scene's rate.
    """
    synthetic = options.source == "synthetic"
    sim_time = any(_role(s, "clock") for s in specs)
    camera: dict[str, Any] = {"source": options.source, "uri": scene_uri, "loop": False,
                              "enabled": False}  # woken up once the recorder listens
    if synthetic:
        camera.update(seed=options.seed, fps=fps * options.speed,
                      burst_fps=fps * options.speed)
    wanted: dict[str, dict[str, Any]] = {"camera_driver": camera}
    day = synthetic and options.preset == "day"
    for spec in specs:
        values = wanted.setdefault(spec.name, {})
        if _role(spec, "clock"):  # paused until the camera starts (see _play)
            values.update(speed=0.0, start_time=start_time)
        if _role(spec, "power/battery"):
            values.update(use_sim_time=sim_time, period_s=max(1.0, time_scale / 3),
                          **(SIM_BATTERY if synthetic else {}))
        if _role(spec, "power/state"):
            values.update(use_sim_time=sim_time,
                          update_period_s=min(60.0, max(1.0, time_scale / 6)),
                          stale_after_s=max(120.0, time_scale), summary_period_s=600.0,
                          state_file=str(tmp / "state" / "power.json"))
            if synthetic:
                values.update(policy_file=str(run_policy(tmp)))
            if day:
                values.update(DAY_STATES, warm_hold_s=WARM_HOLD_SCENE_S * time_scale)
        if _role(spec, "uploader/status"):
            values.update(gateway_url=gateway_url, token_file=token_file,
                          queue_dir=str(tmp / "state" / "queue"),
                          ota_dir=str(tmp / "state" / "ota"), batch_max_wait_s=2.0)
    for node, values in parse_assignments(options.params).items():
        wanted.setdefault(node, {}).update(values)
    return wanted


class LocalGateway:
    """``wildcam gateway`` on 127.0.0.1 (a child process), store and token file in ``directory``.

    The token is a fresh random one in a 0600 file; the port is any free one, read back from
    the line the gateway prints once it serves.
    """

    def __init__(self, directory: Path, log: Path) -> None:
        self.token_file = directory / "gateway.token"
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        self.url = ""
        self._log_path = log
        with log.open("wb") as sink:
            self.process = subprocess.Popen(  # stopped at exit at the latest
                [sys.executable, "-m", "wildcam.cli", "gateway", "--host", "127.0.0.1",
                 "--port", "0", "--store", str(directory / "gateway"), "--token-file",
                 str(self.token_file)], stdout=sink, stderr=subprocess.STDOUT,
                env=ros_environment())
        atexit.register(self.stop)

    def wait_ready(self, timeout_s: float = 30.0) -> str | None:
        """Wait until the gateway serves; a failure reason or None."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            log = self._log_path.read_text(errors="replace")
            found = re.search(r"serving (https?://\S+)", log)
            if found:
                self.url = found.group(1)
                return None
            if self.process.poll() is not None:
                return (f"the gateway exited with code {self.process.returncode} (see "
                        f"{self._log_path})")
            time.sleep(0.1)
        return "the gateway did not start in time"

    def stop(self) -> None:
        """Stop the gateway process."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _exports_and_review(options: RunOptions, out: Path, gateway: LocalGateway,
                        synthetic: bool) -> None:
    """``<out>/camtrap-dp/`` and ``<out>/detections.json`` from the run's gateway store; with
    ``keep_gateway``, serve the review page until Ctrl-C."""
    from wildcam.ecology.cli import run_exports

    where = "0,0" if synthetic else ""  # a synthetic scene stands nowhere
    for line in run_exports(out, out / "gateway", where):
        print(line)
    if where:
        print("camtrap-dp: the synthetic scene has no place: its deployment is at 0,0 "
              "(give --param uploader.location=LAT,LON)")
    if options.keep_gateway and gateway.process.poll() is None:
        print(f"review page: {gateway.url}/review/ (token in {gateway.token_file}); the "
              "gateway keeps serving until Ctrl-C", flush=True)
        try:
            gateway.process.wait()
        except KeyboardInterrupt:
            pass
        gateway.stop()


def fetch_listing(url: str, token_file: Path) -> list[dict[str, Any]]:
    """Every item the gateway at ``url`` lists."""
    from wildcam.upload.transport import HttpTransport

    transport = HttpTransport(url, str(token_file))
    try:
        return list(transport.list_items())
    finally:
        transport.close()


def _clock_text(scene: SceneConfig | None) -> Any:
    from wildcam.report.data import Timebase

    timebase = Timebase.for_scene(scene) if scene is not None else Timebase()
    return timebase.clock


def run_demo(preset: str = "day", seed: int = 0, speed: float = 2.0,
             duration_s: float | None = None, **more: Any) -> int:
    """Play the run :class:`RunOptions` describes; 0 when it ran to the end."""
    options = RunOptions(preset=preset, seed=seed, speed=speed, duration_s=duration_s,
                         **{k: v for k, v in more.items() if v is not None})
    try:
        check_sources(params=parse_assignments(options.params))  # before anything starts
        with _own_domain():
            return _run(options)
    except WildcamError as err:
        print(f"\nwildcam run: {err}", file=sys.stderr)
        return err.exit_code


@contextmanager
def _own_domain() -> Iterator[None]:
    """Run in a ROS domain of the run's own unless ``ROS_DOMAIN_ID`` names one.

    The run starts every node it needs; in a free domain it never meets another graph on this
    host (a ``wildcam bringup``, a test, a second run).
    """
    if os.environ.get("ROS_DOMAIN_ID"):
        yield
        return
    with claim_domain() as domain:
        os.environ["ROS_DOMAIN_ID"] = str(domain)
        print(f"ROS domain {domain} (set ROS_DOMAIN_ID to choose one)")
        try:
            yield
        finally:
            os.environ.pop("ROS_DOMAIN_ID", None)


def _run(options: RunOptions) -> int:
    from wildcam.report import build_report, load_run, summarize
    from wildcam.report.cli import RUN_FILES, print_summary

    started = time.monotonic()
    synthetic = options.source == "synthetic"
    scene = run_scene(options) if synthetic else None
    fps = scene.fps if scene is not None else 0.0  # a real source's: from its parameters
    synthetic_scene = SyntheticScene(scene) if scene is not None else None
    total = synthetic_scene.n_frames if synthetic_scene is not None else 0
    time_scale = DAY_S / scene.day_length_s if scene is not None and scene.day_length_s else 1.0
    day_start = scene.day_start if scene is not None and scene.day_length_s else 0.0
    # The run plays the scene's PIR itself: a PIR node started on request stays out.
    specs = [s for s in NODES if not (s.on_request and _role(s, "camera/trigger"))]
    sim_time = any(_role(s, "clock") for s in specs)  # the power nodes run on it
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    bag = out / "bag"
    if (bag / "metadata.yaml").is_file():
        shutil.rmtree(bag)  # the previous run's recording, logs and inputs
    shutil.rmtree(out / "logs", ignore_errors=True)
    for name in RUN_FILES.values():
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "gateway", ignore_errors=True)  # the previous run's local gateway
    (out / "gateway.token").unlink(missing_ok=True)
    if scene is not None:
        wall = scene.duration_s / options.speed
        print(f"wildcam run: {options.preset!r} scene (seed {options.seed}), "
              f"{scene.duration_s:.0f} s at {fps:g} fps"
              + (f" = {scene.duration_s * time_scale / 3600:.0f} simulated hours"
                 if time_scale != 1.0 else "")
              + f", played at {options.speed:g}x (~{wall:.0f} s); {len(scene.visits)} animal "
              f"visit{'' if len(scene.visits) == 1 else 's'} in the ground truth")
    print(f"graph: {', '.join(s.name for s in specs)}" + (" (simulated clock)" if sim_time
                                                           else ""))
    with tempfile.TemporaryDirectory(prefix="wildcam-run-") as tmp_name:
        tmp = Path(tmp_name)
        logs = out / "logs"
        logs.mkdir(exist_ok=True)
        gateway = None
        gateway_url, token_file = options.gateway_url, options.token_file
        if not gateway_url and any(_role(s, "uploader/status") for s in specs):
            gateway = LocalGateway(out, logs / "gateway.log")  # store out/gateway (exports)
            failure = gateway.wait_ready()
            if failure:
                gateway.stop()
                raise TransportError(failure)
            gateway_url, token_file = gateway.url, str(gateway.token_file)
            print(f"review page: {gateway_url}/review/ (log in with the token in {token_file})")
        scene_uri = options.uri
        if scene is not None:
            scene_file = tmp / "scene.json"
            scene_file.write_text(json.dumps(scene_to_dict(scene)))
            scene_uri = str(scene_file)
            SyntheticScene(scene).write_ground_truth(out / RUN_FILES["truth"])
        defaults = {k.removeprefix("/**/"): v["ros__parameters"]
                    for k, v in default_parameters().items()}
        wanted = _wanted(options, specs, scene_uri, fps, time_scale,
                         START_EPOCH + day_start * DAY_S, gateway_url, token_file, tmp)
        if synthetic and options.preset == "day":  # every node that has a profile: the Pi 5's
            for node, declared in defaults.items():
                if "power_profile" in declared:
                    wanted.setdefault(node, {}).setdefault("power_profile", DAY_DEVICE)
        overrides, missing = node_overrides(specs, defaults, wanted)
        if missing:
            print(f"note: the graph declares no {', '.join(missing)}; running without")
        params = {f"/**/{node}": {"ros__parameters": {**defaults[node], **overrides.get(node, {})}}
                  for node in defaults}
        if scene is None:  # a real source runs at the camera's own rate
            fps = float(params["/**/camera_driver"]["ros__parameters"]["fps"])
        params_file = tmp / "wildcam_run.yaml"
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        supervisor = Supervisor(specs, params_file, env=ros_environment(), log_level="info",
                                log_dir=logs)
        try:
            failure = _play(options, supervisor, bag, total, fps, time_scale,
                            _clock_text(scene), _pir_edges(options, synthetic_scene))
            listing = None
            if gateway is not None or options.token_file:
                try:
                    listing = fetch_listing(gateway_url, Path(token_file))
                except Exception as err:  # noqa: BLE001 - any HTTP/IO failure: report without
                    print(f"wildcam run: cannot list the gateway's items: {err}",
                          file=sys.stderr)
        finally:
            if gateway is not None and not options.keep_gateway:
                gateway.stop()  # else at the end (or at exit: LocalGateway registers it)
    if listing is not None:
        (out / RUN_FILES["gateway"]).write_text(json.dumps({"items": listing}))
    if supervisor.exit_code == EXIT_USAGE:  # a node refused its configuration: no day was run
        print(f"wildcam run: {failure}", file=sys.stderr)
        return EXIT_USAGE
    if not (bag / "metadata.yaml").is_file():
        print(f"wildcam run: {failure or 'nothing was recorded'}", file=sys.stderr)
        return EXIT_FAILED
    for name, code in supervisor.exits:  # said before the summary: its numbers are affected
        print(f"wildcam run: node {name} died during the run (exit code {code}; see "
              f"{logs / (name + '.log')})", file=sys.stderr)
    if failure:
        print(f"wildcam run: {failure}", file=sys.stderr)
    run = load_run(bag, scene, gateway=listing, fps=fps)
    if scene is not None:
        run = dataclasses.replace(run, notes=(*run.notes, (
            "the per-mode camera settings (" + ", ".join(CAMERA_HELD) + ") were held at the "
            "scene's rate: the scene plays at its own rate")))
        cascade = params.get("/**/cascade_detector", {}).get("ros__parameters", {})
        run = _with_measured_baseline(run, scene, cascade, out / RUN_FILES["baseline"])
    summary = summarize(run)
    page = build_report(run, out, summary)
    print(f"\nsummary ({time.monotonic() - started:.0f} s wall):")
    print_summary(summary)
    print(f"report: {page}   (node logs in {logs}/)")
    if gateway is not None:
        _exports_and_review(options, out, gateway, synthetic)
    if failure or supervisor.exits:
        print("wildcam run: the run failed (see above); the report covers what was recorded",
              file=sys.stderr)
        return EXIT_FAILED
    return 0


def _pir_edges(options: RunOptions, scene: SyntheticScene | None) -> list[tuple[float, bool]]:
    """The day preset's PIR edges (scene seconds, active) for ``camera/trigger``; says which
    visits the PIR misses and why."""
    if scene is None or options.preset != "day":
        return []
    outcomes = pir_outcomes(scene.config, scene.visit_spans)
    missed = [f"{o.species} at {_clock_text(scene.config)(o.on_s)}: {o.reason}"
              for o in outcomes if not o.noticed]
    print(f"PIR: notices {len(outcomes) - len(missed)}/{len(outcomes)} visits"
          + (f" (missed: {'; '.join(missed)})" if missed else ""))
    return sorted(e for o in outcomes if o.noticed for e in ((o.on_s, True), (o.off_s, False)))


def _with_measured_baseline(run: RunData, scene: SceneConfig, cascade: Mapping[str, Any],
                            path: Path) -> RunData:
    """``run`` with the always-on baseline measured on its scene's frames (saved to ``path``).

    The model, manifest and power profile are the cascade's (its parameters ``cascade``).
    Without a stage-3 model the run keeps the baseline estimated from its own reports.
    """
    profile = str(cascade.get("power_profile", "rpi4b"))
    from wildcam.report.baseline import measure_stage3_joules
    from wildcam.report.metrics import estimate_baseline

    synthetic = SyntheticScene(scene)
    picks = [synthetic.render(i) for i in range(0, synthetic.n_frames,
                                                max(1, synthetic.n_frames // 5))][:5]
    try:
        joules, model_id = measure_stage3_joules(
            picks, profile, str(cascade.get("manifest", "")),
            str(cascade.get("stage3_model", "default")))
    except (WildcamError, ImportError) as err:  # no stage-3 model, or no cascade at all
        print(f"note: always-on baseline not measured ({err})")
        return run
    baseline = estimate_baseline(run, joules, f"{model_id} on whole frames, measured here "
                                 f"under the {profile} profile")
    if baseline is None:
        return run
    path.write_text(json.dumps(baseline.to_dict()))
    return dataclasses.replace(run, baseline=baseline)


def _play(options: RunOptions, supervisor: Supervisor, bag: Path, total: int, fps: float,
          time_scale: float, clock: Any,
          edges: Sequence[tuple[float, bool]] = ()) -> str | None:
    """Start the graph, record and show progress until the scene ends; a failure or None."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.logging import LoggingSeverity
    from rosbags.rosbag2 import Writer

    from wildcam.bags.record import Recorder
    from wildcam.bags.storage import BAG_VERSION, STORAGES
    from wildcam.report.data import TOPICS
    from wildcam.ros.monitor import RunMonitor

    specs = [child.spec for child in supervisor.children]
    published = {t.lstrip("/") for s in specs for t, _ in s.publishes}
    expected = sorted(t for t in TOPICS.values() if t.lstrip("/") in published)
    writer = Writer(bag, version=BAG_VERSION, storage_plugin=STORAGES["sqlite3"])
    writer.open()
    rclpy.init(args=[])
    executor = SingleThreadedExecutor()
    recorder = Recorder(writer, list(TOPICS.values()))
    recorder.get_logger().set_level(LoggingSeverity.WARN)  # the progress line is the output
    monitor = RunMonitor(fps, clock)
    executor.add_node(recorder)
    executor.add_node(monitor)
    failure: str | None = None

    def recording() -> bool:
        subs = {s.topic_name: s for s in recorder.subscriptions}
        return all(t in subs and subs[t].get_publisher_count() > 0 for t in expected)

    def spin() -> None:
        executor.spin_once(timeout_sec=0.05)

    supervisor.start()
    try:
        day_speed = options.speed * time_scale if total else 1.0  # a real source: real time
        clocks = {s.name: day_speed for s in specs if _role(s, "clock")}
        failure = _start_day(monitor, recording, supervisor.poll, spin, clocks)
        limit = options.wall_limit_s or (total / (fps * options.speed) * 1.5 + 60.0
                                         if total else options.duration_s or 60.0)
        failure = failure or _watch(
            monitor, lambda: recorder.result.counts.get(TOPICS["info"], 0), total,
            fps * options.speed, limit, spin, supervisor.poll, edges)
        for node in clocks:  # the day is over: the battery stops where the scene stopped
            monitor.set_remote(node, {"speed": 0.0}, spin, supervisor.poll, 10.0)
        if failure is None:
            _settle(monitor, spin, supervisor.poll, total)
        monitor.progress(total, force=True)
    except (KeyboardInterrupt, ExternalShutdownException):
        failure = "interrupted"
    finally:
        supervisor.stop()
        end = time.monotonic() + 1.0  # what the middleware already holds goes into the bag
        while rclpy.ok() and time.monotonic() < end:
            spin()
        executor.shutdown(timeout_sec=1.0)
        recorder.destroy_node()
        monitor.destroy_node()
        rclpy.try_shutdown()
        writer.close()
        clean_shared_memory(ros_environment())  # this process's own ports, now closed
    print()
    return failure


def _start_day(monitor: Any, ready: Any, poll: Any, spin: Any,
               clocks: Mapping[str, float], timeout_s: float = 90.0) -> str | None:
    """Once the recorder listens to every topic: wake the camera and start the clocks.

    ``clocks`` maps each simulated-clock node to its speed; they were started paused, so the
    simulated day and the scene begin together.
    """
    end = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > end:
            return "the graph's topics did not all appear in time"
        failure = poll()
        if failure:
            return failure
        spin()
    for node, speed in clocks.items():
        failure = monitor.set_remote(node, {"speed": speed}, spin, poll, 30.0)
        if failure:
            return failure
    return monitor.set_remote("camera_driver", {"enabled": True}, spin, poll, 30.0)


def _watch(monitor: Any, frames: Any, total: int, scene_rate: float, limit_s: float,
           spin: Any, poll: Any, edges: Sequence[tuple[float, bool]] = ()) -> str | None:
    """Show progress until the scene's ``total`` frames have played (or ``limit_s`` passes with a
    real source); publish the scene's PIR ``edges`` (scene seconds, active) on the way; a
    failure or None.

    A synthetic scene plays on the wall clock at ``scene_rate`` frames a second from now
    (the camera reads the frame due, open or not); a real source is counted by its frames.
    """
    start = time.monotonic()
    deadline = start + limit_s
    pending = sorted(edges)
    while True:
        now = time.monotonic()
        if total:
            monitor.frames = min(total, int((now - start) * scene_rate))
            scene_s = monitor.frames / monitor.fps
            while pending and pending[0][0] <= scene_s:
                monitor.trigger(pending.pop(0)[1])
            if now - start >= total / scene_rate + 0.5:  # the last frame is due and taken
                return None
        else:
            monitor.frames = frames()
        if now >= deadline:
            return (f"only {monitor.frames} of {total} frames were played in {limit_s:.0f} s; "
                    "the report covers those") if total else None
        spin()
        failure = poll()
        if failure:
            return failure
        monitor.progress(total)


def _settle(monitor: Any, spin: Any, poll: Any, total: int) -> None:
    """After the last frame: let the upload queue empty and every node report its energy."""
    reported = dict(monitor.energy_nodes)
    end = time.monotonic() + SETTLE_S
    while time.monotonic() < end and poll() is None:
        queue_empty = monitor.queue in (None, 0)
        energy_in = all(monitor.energy_nodes.get(n, 0) > c for n, c in reported.items())
        if queue_empty and energy_in:
            return
        spin()
        monitor.progress(total)
