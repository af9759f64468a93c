"""Motion-gate speed: microseconds per frame, ours against MOG2, single thread.

The whole synthetic default scene (two minutes at 10 fps: four animal visits, wind, rain,
an IR night with its two switches) is pre-rendered at 640x480 and at 1280x720. Each frame
goes through ``reduce_frame`` + ``MotionGate.update`` (default config: illumination
normalisation, jump/IR detection and vegetation suppression on) and, in the same loop,
through ``reduce_frame(bgr, 4)`` + ``Mog2Gate.update`` (OpenCV MOG2 on the quarter-scale
grey frame with the same blob and event logic). The first ``--warmup`` frames are not
timed; the garbage collector is paused while timing; OpenCV runs on one thread.

Reducing a full frame is memory-bound, and the gate's own state (a few 160x120 maps) may or
may not be in cache, so three regimes are timed in separate passes:

* ``hot`` (the headline keys): the pre-rendered frame is copied into a capture buffer just
  before it is timed (untimed copy), as a camera driver's colour conversion or JPEG decode
  leaves it in cache; nothing else runs between frames;
* ``cold`` (``*_cold_*``): the frame is read straight from the pre-rendered sequence, which
  is far larger than the last-level cache, so it comes from DRAM;
* ``pipeline`` (``*_pipeline_*``): each frame is rendered just before it is timed, so the
  renderer (standing in for the rest of the camera pipeline) evicts the gates' state from
  the caches between frames, as other processes on a camera would.

Each pass is repeated ``--repeats`` times and the median of the per-run medians reported,
because the machine may be shared. Still frames (no motion reported) and motion frames are
also summarised apart: the gate does much more work when something moves.

Usage: ``PYTHONPATH=src python bench/motion_speed.py [--repeats 3] [--warmup 50]``
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from dataclasses import replace

import cv2
import numpy as np
import numpy.typing as npt
from _common import print_table, single_thread, write_results

from wildcam.camera.presets import default_scene
from wildcam.camera.synthetic import SyntheticScene
from wildcam.motion import MOG2_FACTOR, Mog2Gate, MotionConfig, MotionGate, reduce_frame

SIZES = {"vga": (640, 480), "hd720": (1280, 720)}
REGIMES = ("hot", "cold", "pipeline")
Frames = list[npt.NDArray[np.uint8]]


def one_pass(scene: SyntheticScene, frames: Frames | None, warmup: int, regime: str,
             limit: int | None) -> dict[str, npt.NDArray[np.float64]]:
    """Time every frame once through both gates; microseconds per frame.

    ``frames`` is the pre-rendered sequence (``hot``, ``cold``); the ``pipeline`` regime
    renders each frame from ``scene`` instead.
    """
    size = (scene.width, scene.height)
    config = MotionConfig()
    factor = config.factor_for(size[0])
    ours, mog = MotionGate(config, size), Mog2Gate(config, size)
    capture = np.empty((size[1], size[0], 3), np.uint8)
    small_ours = np.empty((-(-size[1] // factor), -(-size[0] // factor)), np.uint8)
    small_mog = np.empty((-(-size[1] // MOG2_FACTOR), -(-size[0] // MOG2_FACTOR)), np.uint8)
    n = scene.n_frames if frames is None else len(frames)
    n = n if limit is None else min(limit, n)
    cols: dict[str, list[float]] = {k: [] for k in ("ours", "ours_update", "mog2",
                                                    "mog2_update", "motion")}
    clock = time.perf_counter_ns
    for k in range(n):
        if frames is None:
            bgr = scene.render(k)
        elif regime == "hot":
            bgr = capture
            np.copyto(capture, frames[k])
        else:
            bgr = frames[k]
        stamp = scene.stamp(k)
        t0 = clock()
        small = reduce_frame(bgr, factor, small_ours)
        t1 = clock()
        result = ours.update(small, stamp)
        t2 = clock()
        small = reduce_frame(bgr, MOG2_FACTOR, small_mog)
        t3 = clock()
        mog.update(small, stamp)
        t4 = clock()
        if k >= warmup:
            cols["ours"].append((t2 - t0) / 1000)
            cols["ours_update"].append((t2 - t1) / 1000)
            cols["mog2"].append((t4 - t2) / 1000)
            cols["mog2_update"].append((t4 - t3) / 1000)
            cols["motion"].append(float(result.motion))
    return {k: np.asarray(v) for k, v in cols.items()}


def summarise(name: str, regime: str,
              runs: list[dict[str, npt.NDArray[np.float64]]]) -> dict[str, float]:
    """Median over runs of each run's statistics, under the benchmark's key names."""
    suffix = "" if regime == "hot" else f"_{regime}"
    out: dict[str, float] = {}

    def stat(fn: object, key: str, select: str | None = None) -> float:
        values = []
        for run in runs:
            data = run[key]
            if select is not None:
                keep = run["motion"] > 0 if select == "motion" else run["motion"] == 0
                data = data[keep]
            values.append(fn(data) if data.size else float("nan"))  # type: ignore[operator]
        return round(float(np.median(values)), 2)

    median = np.median
    for key, prefix in (("ours", ""), ("mog2", "mog2_quarter_")):
        base = f"{prefix}{name}{suffix}"
        out[f"{base}_us_median"] = stat(median, key)
        out[f"{base}_us_p90"] = stat(lambda d: np.percentile(d, 90), key)
        out[f"{base}_us_mean"] = stat(np.mean, key)
        out[f"{base}_update_us_median"] = stat(median, f"{key}_update")
        if key == "ours":
            out[f"{base}_still_us_median"] = stat(median, key, "still")
            out[f"{base}_motion_us_median"] = stat(median, key, "motion")
    out[f"{name}{suffix}_speedup_vs_mog2"] = round(
        out[f"mog2_quarter_{name}{suffix}_us_median"] / out[f"{name}{suffix}_us_median"], 2)
    if regime == "hot":
        out[f"{name}_motion_frame_share"] = round(float(np.mean(runs[0]["motion"])), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure both sizes and regimes; write ``motion_speed.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per size and regime")
    parser.add_argument("--warmup", type=int, default=50, help="untimed leading frames")
    parser.add_argument("--limit", type=int, default=None, help="frames per run (all)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    single_thread()
    results: dict[str, float | int | str] = {
        "scene": "default_scene(0), all frames",
        "repeats": args.repeats,
        "opencv_threads": cv2.getNumThreads(),
    }
    for name, size in SIZES.items():
        scene = SyntheticScene(replace(default_scene(0), width=size[0], height=size[1]))
        frames = [scene.render(i) for i in range(args.limit or scene.n_frames)]
        results[f"{name}_frames_timed"] = len(frames) - args.warmup
        for regime in REGIMES:
            runs = []
            for _ in range(args.repeats):
                gc.collect()
                gc.disable()
                try:
                    runs.append(one_pass(scene, None if regime == "pipeline" else frames,
                                         args.warmup, regime, args.limit))
                finally:
                    gc.enable()
            results.update(summarise(name, regime, runs))
        del frames
    results["target_vga_us"] = 50.0
    results["target_hd720_us"] = 100.0
    results["target_speedup"] = 2.5
    if args.no_write:
        print_table(results)
    else:
        write_results("motion_speed", results)
    for name in SIZES:
        print(f"{name}: ours {results[f'{name}_us_median']} us, MOG2 "
              f"{results[f'mog2_quarter_{name}_us_median']} us -> "
              f"{results[f'{name}_speedup_vs_mog2']}x (hot); cold "
              f"{results[f'{name}_cold_us_median']} vs "
              f"{results[f'mog2_quarter_{name}_cold_us_median']} us; pipeline "
              f"{results[f'{name}_pipeline_us_median']} vs "
              f"{results[f'mog2_quarter_{name}_pipeline_us_median']} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
