"""The wake path through the real graph: trigger to first full frame in warm and in watch, and a
cold start of the whole bringup to the first frame and to the first cascade decision.

Each cold start runs ``wildcam bringup`` (one process per node, the default graph: camera,
motion gate, cascade, uploader, power source and manager) on a synthetic scene in which a deer
walks in after one second; the clock runs from the bringup's process start to the first
``camera/small/image_raw`` message and to the first ``detections/events`` message (a frame
the cascade decided "animal") at a listener in this process. The last bringup then serves the
trigger measurements: the power manager is set to ``warm`` and then to ``watch`` (its
``override_state``, pushed to the camera like any state), and each ``camera/trigger`` is timed
from its publication to the first full frame on ``camera/image_raw`` stamped after it. In watch
the camera is closed between triggers (``release_after_s``), so every trigger reopens it.

Modelled beside them: the OS boot to the first frame, ``boot_s`` of the profile (cited there);
a device that sleeps in a halt adds it to ``cold_start_to_frame_s``. The synthetic source
reopens from a kept scene; a V4L2 device's open time is not measured here.

Held bursts (``--held-bursts``, after the bringups): bursts of a walking deer the power
controller held (``HELD_FRAMES`` 640x480 JPEG frames each, written under the store's contract)
drain through the camera, the motion gate and the cascade, each its own process with the default
parameters and the real models, paced by their acknowledgements (README "Device states"). The
wall time from the first held frame out to the emptied store, and the CPU seconds of the three
processes over it (``/proc``) less the same processes' over an equal idle window right after
(the baseline, in the same run), each divided by the bursts: ``held_burst_drain_s``,
``held_burst_cpu_s`` (for the lifetime model's per-burst analysis CPU time, times the
profile's slowdown; lifetime.py does not read it yet), ``held_burst_cpu_s_idle`` (the
baseline), ``held_frames_set_aside``, ``held_frames_animal`` (held frames decided "animal") and
``held_bursts_animal`` (bursts with one at least).

Keys: ``trigger_to_frame_ms_warm``, ``trigger_to_frame_ms_watch``, ``cold_start_to_frame_s``,
``cold_start_to_decision_s`` (medians; ``*_p95`` and ``*_n`` beside them), goals and ``*_met``;
what a cold start is made
of: the import time of the cascade node and of the camera node (paid before any work), the
first frame to the first decision, of which the scene's deer takes ``scene_animal_enters_s``
to walk in.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from _common import write_results

ANIMAL_ENTERS_S = 1.0  # scene seconds after the first frame: part of every time to a decision
# A held burst: the controller's camera for 3 s (lifetime.py's burst camera, an ASSUMPTION there)
# at 10 fps (camera_driver's default fps; the controller's rate is ASSUMED the same).
HELD_FRAMES = 30
GOALS = {
    "trigger_to_frame_ms_warm": 100.0,
    "trigger_to_frame_ms_watch": 400.0,
    "cold_start_to_decision_s": 3.0,
}


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _scene(path: Path) -> None:
    from wildcam.camera.scene import SceneConfig, Visit, scene_to_dict

    scene = SceneConfig(
        seed=3,
        duration_s=600.0,
        visits=(Visit(ANIMAL_ENTERS_S, 30.0, "deer", 0.35, "left_to_right", 0.3, 0.85),),
        illumination_drift=0.0,
    )
    path.write_text(json.dumps(scene_to_dict(scene)))


def _params(tmp: Path, scene: Path) -> Path:
    from wildcam.docs import default_parameters

    params = default_parameters()
    params["/**/camera_driver"]["ros__parameters"].update(
        uri=str(scene), fps=10.0, release_after_s=0.2, burst_frames=3, burst_fps=10.0, loop=True
    )
    params["/**/uploader"]["ros__parameters"].update(
        queue_dir=str(tmp / "queue"), ota_dir=str(tmp / "ota")
    )
    params["/**/power_source"]["ros__parameters"].update(backend="fixed", fixed_percentage=0.8)
    params["/**/power_manager"]["ros__parameters"].update(
        state_file=str(tmp / "power.json"), update_period_s=0.1
    )
    path = tmp / "wake.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


class _Listener:
    """This process's node: first-message times, full frames, triggers, parameter calls."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import Image

        from wildcam.graph import DETECTION_EVENTS
        from wildcam.msg import DetectionArray, FrameDone, Trigger
        from wildcam.ros.qos import EVENTS, SENSOR_SUB

        rclpy.init(args=[])
        self.node = rclpy.create_node("wildcam_wake_bench")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.first: dict[str, float] = {}
        self.since_ns = 0  # "first" counts messages stamped from then on (not a stopped run's)
        self.raw: list[tuple[int, float]] = []  # (header stamp ns, received monotonic)
        self.animal: set[int] = set()  # stamps of frames decided "animal"

        def seen(key: str) -> Callable[[Any], None]:
            def note(msg: Any) -> None:
                stamp = _stamp_ns(msg)
                if stamp >= self.since_ns:
                    self.first.setdefault(key, time.monotonic())
                    if key == "decision":
                        self.animal.add(stamp)

            return note

        def raw(msg: Any) -> None:
            self.raw.append((_stamp_ns(msg), time.monotonic()))

        self.node.create_subscription(Image, "camera/small/image_raw", seen("frame"), SENSOR_SUB)
        self.node.create_subscription(DetectionArray, DETECTION_EVENTS, seen("decision"), EVENTS)
        self.acks = [  # held frames wait for both deciders' acknowledgements to have publishers
            self.node.create_subscription(FrameDone, topic, lambda _msg: None, EVENTS)
            for topic in ("motion/processed", "detections/processed")
        ]
        self.node.create_subscription(Image, "camera/image_raw", raw, SENSOR_SUB)
        self.trigger = self.node.create_publisher(Trigger, "camera/trigger", 10)
        self.Trigger = Trigger

    def spin_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.01)
        return predicate()

    def set_state(self, state: str, camera_trigger_mode: bool) -> None:
        from rclpy.parameter import Parameter, parameter_value_to_python
        from rclpy.parameter_client import AsyncParameterClient

        manager = AsyncParameterClient(self.node, "power_manager")
        assert manager.wait_for_services(timeout_sec=30.0), "no power_manager"
        future = manager.set_parameters([Parameter("override_state", value=state)])
        assert self.spin_until(future.done, 10.0) and future.result().results[0].successful
        camera = AsyncParameterClient(self.node, "camera_driver")

        def pushed() -> bool:
            got = camera.get_parameters(["trigger_mode"])
            return (
                self.spin_until(got.done, 2.0)
                and got.result() is not None
                and parameter_value_to_python(got.result().values[0]) is camera_trigger_mode
            )

        assert self.spin_until(pushed, 30.0), f"the {state} state never reached the camera"

    def trigger_latency_ms(self, settle_s: float) -> float:
        """One trigger: ms from its publication to the first full frame stamped after it."""
        self.spin_until(lambda: False, settle_s)  # the camera closes in watch meanwhile
        msg = self.Trigger(source=self.Trigger.SOURCE_MANUAL, active=True)
        now = self.node.get_clock().now()
        msg.header.stamp = now.to_msg()
        sent = time.monotonic()
        self.trigger.publish(msg)
        mark = now.nanoseconds
        found = self.spin_until(lambda: any(s >= mark for s, _ in self.raw), 10.0)
        assert found, "no full frame after a trigger"
        return 1000.0 * (min(t for s, t in self.raw if s >= mark) - sent)

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the processes used so far (Linux ``/proc/<pid>/stat``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick


def _write_held(held: Path, bursts: int) -> list[set[int]]:
    """``bursts`` held bursts of a deer walking in (a minute apart); their capture stamps."""
    import cv2

    from wildcam.camera.held_store import write_burst
    from wildcam.camera.scene import SceneConfig, Visit
    from wildcam.camera.synthetic import SyntheticScene

    scene = SyntheticScene(
        SceneConfig(
            seed=5,
            duration_s=31.0,  # the visit's; a burst is its first HELD_FRAMES frames
            visits=(Visit(0.5, 30.0, "deer", 0.35, "left_to_right", 0.3, 0.85),),
            illumination_drift=0.0,
        )
    )
    jpegs = [cv2.imencode(".jpg", scene.render(i))[1].tobytes() for i in range(HELD_FRAMES)]
    stamps: list[set[int]] = []
    start = time.time_ns() - 3600 * 10**9
    for b in range(bursts):
        trigger = start + b * 60 * 10**9
        frames = [(trigger + (i + 1) * 10**8, data, ".jpg") for i, data in enumerate(jpegs)]
        write_burst(held, trigger, frames)
        stamps.append({s for s, _, _ in frames})
    return stamps


def _held_drain(
    tmp: Path, params: Path, env: dict[str, str], listener: _Listener, bursts: int
) -> dict[str, float | int]:
    """Drain ``bursts`` held bursts; the per-burst figures (see the module's docstring)."""
    from wildcam.camera.held_store import pending_frames

    held = tmp / "held"
    stamps = _write_held(held, bursts)
    listener.first.clear()
    listener.animal.clear()
    listener.since_ns = 0  # held frames carry their capture times, an hour ago
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, *extra: str) -> None:
        command = [sys.executable, "-m", f"wildcam.nodes.{name}", "--ros-args"]
        with open(tmp / f"held-{name}.log", "wb") as out:
            procs.append(
                subprocess.Popen(
                    [*command, "--params-file", str(params), *extra],  # -p after: it wins
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )

    try:
        start("motion_detector")
        start("cascade_detector")
        ok = listener.spin_until(lambda: all(s.get_publisher_count() for s in listener.acks), 120)
        assert ok, "the motion gate or the cascade did not start"
        start("camera_driver", "-p", f"held_dir:={held}", "-p", "trigger_mode:=true")
        pids = [p.pid for p in procs]
        assert listener.spin_until(lambda: "frame" in listener.first, 120.0), "no held frame"
        cpu0, wall0 = _cpu_s(pids), listener.first["frame"]
        assert listener.spin_until(lambda: not pending_frames(held), 600.0), "not drained"
        cpu1, wall1 = _cpu_s(pids), time.monotonic()
        listener.spin_until(lambda: False, wall1 - wall0)  # the idle baseline, same length
        cpu2 = _cpu_s(pids)
    finally:
        for proc in procs:
            _stop(proc)
    return {
        "held_bursts_n": bursts,
        "held_burst_frames": HELD_FRAMES,
        "held_burst_drain_s": round((wall1 - wall0) / bursts, 4),
        "held_burst_cpu_s": round(((cpu1 - cpu0) - (cpu2 - cpu1)) / bursts, 4),
        "held_burst_cpu_s_idle": round((cpu2 - cpu1) / bursts, 4),
        "held_frames_set_aside": sum(1 for p in held.glob(".undecided-*")),
        "held_frames_animal": sum(len(b & listener.animal) for b in stamps),
        "held_bursts_animal": sum(1 for b in stamps if b & listener.animal),
    }


def _bringup(
    params: Path, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], float]:
    with open(log, "wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wildcam.cli",
                "bringup",
                "--params-file",
                str(params),
                "--log-level",
                "warn",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, started


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(2)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _import_s(module: str, env: dict[str, str]) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--triggers", type=int, default=10)
    parser.add_argument("--held-bursts", type=int, default=3, help="0: no held-burst phase")
    args = parser.parse_args()

    from wildcam.power.profile import load_profile
    from wildcam.rosenv import claim_domain, ros_environment

    cold_frame: list[float] = []
    cold_decision: list[float] = []
    held: dict[str, float | int] = {}
    warm: list[float] = []
    watch: list[float] = []
    with tempfile.TemporaryDirectory(prefix="wildcam-wake-") as tmp_name, claim_domain() as domain:
        tmp = Path(tmp_name)
        env = {**ros_environment(domain), "HOME": str(tmp)}
        os.environ.update(ROS_DOMAIN_ID=str(domain))
        scene = tmp / "scene.json"
        _scene(scene)
        params = _params(tmp, scene)
        imports = {
            m: _import_s(f"wildcam.nodes.{m}", env) for m in ("cascade_detector", "camera_driver")
        }
        listener = _Listener()
        try:
            for i in range(args.cold_starts):
                listener.first.clear()
                listener.since_ns = time.time_ns()
                proc, started = _bringup(params, env, tmp / f"bringup{i}.log")
                ok = listener.spin_until(
                    lambda: {"frame", "decision"} <= set(listener.first), 120.0
                )
                assert ok, (tmp / f"bringup{i}.log").read_text()[-3000:]
                cold_frame.append(listener.first["frame"] - started)
                cold_decision.append(listener.first["decision"] - started)
                last = i == args.cold_starts - 1
                if not last:
                    _stop(proc)
            listener.set_state("warm", False)
            warm = [listener.trigger_latency_ms(0.5) for _ in range(args.triggers)]
            listener.set_state("watch", True)
            watch = [listener.trigger_latency_ms(0.8) for _ in range(args.triggers)]
            _stop(proc)
            if args.held_bursts:
                held = _held_drain(tmp, params, env, listener, args.held_bursts)
        finally:
            listener.close()
    profile = load_profile("rpi4b")
    values: dict[str, float | int | str | bool] = {}
    for name, _unit, data in (
        ("trigger_to_frame_ms_warm", "ms", warm),
        ("trigger_to_frame_ms_watch", "ms", watch),
        ("cold_start_to_frame_s", "s", cold_frame),
        ("cold_start_to_decision_s", "s", cold_decision),
    ):
        values[name] = round(statistics.median(data), 4)  # the median
        values[f"{name}_p95"] = round(_p95(data), 4)
        values[f"{name}_n"] = len(data)
        if name in GOALS:
            values[f"{name}_goal"] = GOALS[name]
            values[f"{name}_met"] = statistics.median(data) <= GOALS[name]
    values.update(
        {
            "first_frame_to_decision_s_median": round(
                statistics.median(d - f for d, f in zip(cold_decision, cold_frame, strict=True)), 4
            ),
            "scene_animal_enters_s": ANIMAL_ENTERS_S,
            "import_cascade_node_s": round(imports["cascade_detector"], 3),
            "import_camera_node_s": round(imports["camera_driver"], 3),
            "os_boot_to_first_frame_s_modelled": profile.states.boot_s,
            "os_boot_source": f"config/power_profiles/{profile.name}.yaml states.boot_s "
            "(ASSUMPTION there, with how to measure it)",
            "note": "host x86-64, synthetic source (reopened from a kept scene); provisional",
            **held,
        }
    )
    write_results("wake", values)


if __name__ == "__main__":
    main()
