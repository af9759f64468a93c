"""Memory of the whole graph, for the small board (a Pi Zero 2 W has 512 MB in all).

The real graph plays a clip in which a deer walks through the frame: the synthetic scene
rendered once into an MJPG file and read by the camera driver's ``file`` source, as a camera
on the board decodes frames (the synthetic renderer's caches are no part of a trap; the
``synthetic_*`` keys are this code with that source, for comparison). The clip loops, so a node
that starts late still sees a visit. Every cascade stage's band is widened to [0, 1) so each
motion region goes on to stage 3: the run waits, on ``/diagnostics``, until the cascade has
run stage 3 and closed the event, then measures.

* ``composed_rss_mb``: peak RSS (the kernel's ``VmHWM``) of ``wildcam bringup --composed``
  through that event, all three stages loaded;
* ``bringup_total_rss_mb``: the sum of the RSS of the default bringup's processes (the
  supervisor and one per node) a few seconds after the event closed, stage 3 still loaded;
  ``bringup_<node>_rss_mb`` (and ``_pss_mb``, ``_uss_mb``, ``_peak_mb``) per process.

The goals are on RSS, as the issue states them. RSS counts every shared library page in each
process that maps it, so a sum over processes overstates what the board needs; PSS (shared
pages split between the processes that share them) sums to what the processes really hold,
and USS is what each alone would free by exiting. Both are recorded next to the RSS figures.

Baselines in the same run: ``eager_*`` is this code with stage 3 loaded at start and ONNX
Runtime's memory arena and pattern on (``stage3_lazy: false``, ``onnx_mem_arena: true``,
``onnx_mem_pattern: true``); ``before_*`` is the source tree of ``--baseline-ref`` (default:
the commit before the memory work), run from a ``git archive`` of its ``src`` and ``config``
with the same parameters file and its own ``models`` (its code cannot parse a newer
manifest). ``*_stage3_dropped_*`` are this code's figures once the idle stage 3 was dropped
(``stage3_idle_unload_s`` shortened for the run). ``composed_node_<node>_mb`` is the RSS each
node adds when one process imports and creates it, in node-table order (shared
libraries count for the first node that loads them); ``stage3_load_ms`` is the wall time of
the lazy stage 3's first call, session creation included.

The figures are measured on this host (x86-64 wheels); an arm64 Pi's differ. Run:
``.venv/bin/python bench/memory.py`` (about five minutes).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import psutil
import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray

from _common import REPO, Value, write_results
from wildcam.camera.scene import SceneConfig, Visit, scene_to_dict
from wildcam.camera.synthetic import SyntheticScene
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.loader import load_stages
from wildcam.docs import default_parameters
from wildcam.graph import NODES
from wildcam.rosenv import claim_domain, ros_environment, small_messages_environment
from wildcam.types import Box

MB = 1024 * 1024
GOAL_COMPOSED_MB = 200.0
GOAL_BRINGUP_MB = 450.0
BEFORE_REF = "e12319a"
"""The commit before the memory work (lazy imports, lazy stage 3, lean ONNX Runtime)."""
SCENE = SceneConfig(
    seed=3,
    duration_s=20.0,
    visits=(Visit(6.0, 6.0, species="deer", size=0.35, direction="left_to_right"),),
)
SETTLE_S = 3.0
"""Seconds after the event closed before the per-process figures are read."""
EAGER: dict[str, Value] = {"stage3_lazy": False, "onnx_mem_arena": True, "onnx_mem_pattern": True}
IDLE_UNLOAD_S = 8.0
"""``stage3_idle_unload_s`` of this code's run (the default is longer): after the figures with
stage 3 loaded, the run waits for it to be dropped and records the ``*_stage3_dropped_*``
figures."""


def _clip(path: Path) -> Path:
    """:data:`SCENE` rendered into an MJPG file at its frame rate."""
    scene = SyntheticScene(SCENE)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"MJPG"), SCENE.fps, (scene.width, scene.height)
    )
    for index in range(scene.n_frames):
        writer.write(scene.render(index))
    writer.release()
    return path


def _params(
    folder: Path, cascade: dict[str, Value], clip: Path | None, models: Path = REPO / "models"
) -> Path:
    """The default parameters playing ``clip`` (None: the synthetic scene itself), looping,
    with state in ``folder``, the ``cascade`` settings and the manifest in ``models``."""
    folder.mkdir(parents=True)
    if clip is None:
        scene = folder / "scene.yaml"
        scene.write_text(yaml.safe_dump(scene_to_dict(SCENE)))
    params = default_parameters()
    params["/**/camera_driver"]["ros__parameters"].update(
        source="file" if clip else "synthetic", uri=str(clip or scene), loop=True
    )
    params["/**/cascade_detector"]["ros__parameters"].update(
        manifest=str(models / "manifest.json"),
        stage1_c_low=0.0,
        stage1_c_high=1.0,
        stage2_c_low=0.0,
        stage2_c_high=1.0,
        **cascade,
    )
    params["/**/uploader"]["ros__parameters"].update(
        queue_dir=str(folder / "queue"), ota_dir=str(folder / "ota")
    )
    params["/**/power_source"]["ros__parameters"].update(backend="simulated")
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


class Watch:
    """The cascade detector's counters on ``/diagnostics`` (rclpy in this process)."""

    def __init__(self) -> None:
        rclpy.init()
        self.node = rclpy.create_node("memory_bench_watch")
        self.values: dict[str, str] = {}
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 10)

    def _on_diag(self, msg: object) -> None:
        for status in msg.status:  # type: ignore[attr-defined]
            if status.name.endswith("cascade_detector"):
                self.values.update({kv.key: kv.value for kv in status.values})

    def count(self, key: str) -> int:
        value = self.values.get(key, "0")
        return int(value) if value.isdigit() else 0

    def event_done(self) -> bool:
        """Stage 3 ran and a motion event closed."""
        return (
            self.count("stage3_frames") > 0
            and self.count("events_animal") + self.count("events_empty") > 0
        )

    def spin_until(
        self, done: Callable[[], bool], timeout_s: float, alive: Callable[[], bool]
    ) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and alive():
            rclpy.spin_once(self.node, timeout_sec=0.2)
            if done():
                return True
        return False

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown()


@dataclass
class Usage:
    """One process's memory in MB."""

    rss: float
    pss: float
    uss: float
    peak: float


def _usage(proc: psutil.Process) -> Usage:
    full = proc.memory_full_info()
    peak = 0.0
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return Usage(full.rss / MB, full.pss / MB, full.uss / MB, peak)


def _name(proc: psutil.Process) -> str:
    cmd = proc.cmdline()
    for spec in NODES:
        if spec.module in cmd:
            return spec.name
    return "supervisor" if "bringup" in cmd else Path(cmd[0]).name


def _usages(pid: int) -> dict[str, Usage]:
    root = psutil.Process(pid)
    return {_name(p): _usage(p) for p in [root, *root.children(recursive=True)]}


@dataclass
class Run:
    """One graph run: each process's usage after the event, and after stage 3 was dropped."""

    after_event: dict[str, Usage]
    stage3_frames: int
    stage3_dropped: dict[str, Usage] | None = None


def _run(
    watch: Watch,
    env: dict[str, str],
    params: Path,
    composed: bool,
    log: Path,
    timeout_s: float,
    wait_drop: bool,
) -> Run:
    """Start the graph, wait for a stage-3 event (and with ``wait_drop`` for stage 3 to be
    dropped again); return each process's usage."""
    watch.values.clear()
    flags = ["--composed"] if composed else ["--log-level", "warn"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wildcam.cli", "bringup", "--params-file", str(params), *flags],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def alive() -> bool:
            return proc.poll() is None

        if not watch.spin_until(watch.event_done, timeout_s, alive):
            raise SystemExit(
                f"no stage-3 motion event within {timeout_s:.0f} s (counters "
                f"{watch.values}); log:\n{log.read_text(errors='replace')[-3000:]}"
            )
        watch.spin_until(lambda: False, SETTLE_S, alive)
        run = Run(_usages(proc.pid), watch.count("stage3_frames"))
        if wait_drop:
            if not watch.spin_until(
                lambda: watch.values.get("stage3_loaded") == "false", timeout_s, alive
            ):
                raise SystemExit(f"stage 3 was not dropped (counters {watch.values})")
            run.stage3_dropped = _usages(proc.pid)
        return run
    finally:
        proc.send_signal(signal.SIGINT)  # the supervisor stops its children in order
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


_STEPS = """
import json, sys
import psutil
proc = psutil.Process()
out = {"python": proc.memory_info().rss}
import rclpy
rclpy.init(args=["x", "--ros-args", "--params-file", sys.argv[1]])
out["rclpy"] = proc.memory_info().rss
from wildcam.bringup import select
nodes = []
for spec in select(None):
    nodes.append(spec.node_type()())
    out[spec.name] = proc.memory_info().rss
print(json.dumps(out))
"""


def _composed_steps(env: dict[str, str], params: Path) -> dict[str, float]:
    """RSS (MB) each node adds to one process, in table order, at start-up."""
    done = subprocess.run(
        [sys.executable, "-c", _STEPS, str(params)],
        check=True,
        env=small_messages_environment(env),  # as run_composed has it
        capture_output=True,
        text=True,
        timeout=300,
    )
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    names = list(marks)
    return {
        name: (marks[name] - marks[names[i - 1]]) / MB if i else marks[name] / MB
        for i, name in enumerate(names)
    }


def _stage3_load_ms() -> float:
    """Wall time of the default stage 3's first call, its (lazy) session created in it."""
    model = load_stages(CascadeConfig(), {3})[3]
    assert model is not None
    start = time.perf_counter()
    model.predict(np.zeros((480, 640, 3), np.uint8), [Box(0, 0, 640, 480)])
    return (time.perf_counter() - start) * 1000


def _baseline_tree(ref: str, folder: Path) -> Path:
    """``ref``'s ``src``, the ``config`` it reads and the ``models`` its code can parse,
    unpacked into ``folder``."""
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "src", "config", "models"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _record(out: dict[str, Value], prefix: str, composed: Run, bringup: Run) -> None:
    [process] = composed.after_event.values()
    out[f"{prefix}composed_rss_mb"] = round(process.peak, 1)
    out[f"{prefix}composed_steady_rss_mb"] = round(process.rss, 1)
    out[f"{prefix}composed_pss_mb"] = round(process.pss, 1)
    out[f"{prefix}composed_uss_mb"] = round(process.uss, 1)
    procs = bringup.after_event
    for kind in ("rss", "pss", "uss"):
        out[f"{prefix}bringup_total_{kind}_mb"] = round(
            sum(getattr(u, kind) for u in procs.values()), 1
        )
    out[f"{prefix}bringup_processes"] = len(procs)
    for name, u in procs.items():
        for kind in ("rss", "pss", "uss", "peak"):
            out[f"{prefix}bringup_{name}_{kind}_mb"] = round(getattr(u, kind), 1)
    out[f"{prefix}stage3_frames_composed"] = composed.stage3_frames
    out[f"{prefix}stage3_frames_bringup"] = bringup.stage3_frames
    if composed.stage3_dropped and bringup.stage3_dropped:
        [process] = composed.stage3_dropped.values()
        out[f"{prefix}composed_stage3_dropped_rss_mb"] = round(process.rss, 1)
        out[f"{prefix}bringup_total_stage3_dropped_rss_mb"] = round(
            sum(u.rss for u in bringup.stage3_dropped.values()), 1
        )
        out[f"{prefix}bringup_cascade_detector_stage3_dropped_rss_mb"] = round(
            bringup.stage3_dropped["cascade_detector"].rss, 1
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--baseline-ref",
        default=BEFORE_REF,
        help="git ref of the code before the change ('' skips that baseline)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the stage-3 event per run",
    )
    args = parser.parse_args()
    out: dict[str, Value] = {}
    with tempfile.TemporaryDirectory() as tmp, claim_domain() as domain:
        folder = Path(tmp)
        env = ros_environment(domain)
        os.environ.update(env)
        watch = Watch()
        try:
            clip = _clip(folder / "deer.avi")
            ours = REPO / "models"
            variants = [
                ("", {"stage3_idle_unload_s": IDLE_UNLOAD_S}, env, clip, ours),
                ("eager_", EAGER, env, clip, ours),
                ("synthetic_", {}, env, None, ours),
            ]
            if args.baseline_ref:
                tree = _baseline_tree(args.baseline_ref, folder / "before")
                before_env = {**env, "PYTHONPATH": str(tree / "src")}
                variants.append(("before_", {}, before_env, clip, tree / "models"))
            for prefix, cascade, run_env, source, models in variants:
                params = _params(folder / (prefix or "ours"), cascade, source, models)
                runs = [
                    _run(
                        watch,
                        run_env,
                        params,
                        composed,
                        folder / f"{prefix}composed-{composed}.log",
                        args.timeout,
                        wait_drop=not prefix,
                    )
                    for composed in (True, False)
                ]
                _record(out, prefix, *runs)
            steps = _composed_steps(env, _params(folder / "steps", {}, clip))
        finally:
            watch.close()
    for name, mb in steps.items():
        out[f"composed_node_{name}_mb"] = round(mb, 1)
    out["stage3_load_ms"] = round(_stage3_load_ms(), 1)
    out["goal_composed_rss_mb"] = GOAL_COMPOSED_MB
    out["goal_bringup_total_rss_mb"] = GOAL_BRINGUP_MB
    out["composed_met"] = float(out["composed_rss_mb"]) <= GOAL_COMPOSED_MB  # type: ignore[arg-type]
    out["bringup_met"] = float(out["bringup_total_rss_mb"]) <= GOAL_BRINGUP_MB  # type: ignore[arg-type]
    out["baseline_ref"] = args.baseline_ref
    out["stage3_idle_unload_s"] = IDLE_UNLOAD_S
    out["scene"] = (
        "a deer's visit, 640x480 at 10 fps, 20 s looping, played from an MJPG "
        "file; every stage's band [0, 1)"
    )
    write_results("memory", out)


if __name__ == "__main__":
    main()
