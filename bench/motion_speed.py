"""Motion-gate speed: microseconds per frame, ours against MOG2, single thread.

A contiguous stretch of the synthetic default scene (an animal visit, wind, rain) is
pre-rendered at 640x480 and 1280x720. Each frame goes through ``reduce_frame`` +
``MotionGate.update`` (default config: illumination normalisation, jump detection and
vegetation suppression on) and, in the same loop, through ``reduce_frame(bgr, 4)`` +
``Mog2Gate.update`` (OpenCV MOG2 on the quarter-scale grey frame, same blob/event logic).
The first frames warm the models up and are not timed; the garbage collector is paused while
timing.

Two cache regimes are measured, because the reduction of a full frame is memory-bound:

* ``hot`` (the headline keys): the frame is copied into a capture buffer just before it is
  timed, as a camera driver's colour conversion or JPEG decode leaves it in cache;
* ``cold``: the frame is read straight from the pre-rendered sequence, which is far larger
  than the last-level cache, so every line comes from DRAM.

Usage: ``PYTHONPATH=src python bench/motion_speed.py [--frames 600] [--warmup 100]``
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
from _common import single_thread, write_results

from wildcam.camera.presets import default_scene
from wildcam.camera.synthetic import SyntheticScene
from wildcam.motion import MOG2_FACTOR, Mog2Gate, MotionConfig, MotionGate, reduce_frame

SIZES = {"vga": (640, 480), "hd720": (1280, 720)}
Frames = list[npt.NDArray[np.uint8]]


def render(size: tuple[int, int], count: int, start_s: float) -> Frames:
    """``count`` consecutive frames of the default scene at ``size`` from ``start_s``."""
    scene = SyntheticScene(replace(default_scene(0), width=size[0], height=size[1]))
    first = round(start_s * scene.config.fps)
    return [scene.render(first + i) for i in range(min(count, scene.n_frames - first))]


def measure(frames: Frames, size: tuple[int, int], warmup: int,
            hot: bool) -> dict[str, list[int]]:
    """Per-frame nanoseconds of ours and MOG2, total and update-only, in one pass."""
    config = MotionConfig()
    factor = config.factor_for(size[0])
    ours, mog = MotionGate(config, size), Mog2Gate(config, size)
    capture = np.empty_like(frames[0])
    small_ours = np.empty((-(-size[1] // factor), -(-size[0] // factor)), np.uint8)
    small_mog = np.empty((-(-size[1] // MOG2_FACTOR), -(-size[0] // MOG2_FACTOR)), np.uint8)
    times: dict[str, list[int]] = {"ours": [], "ours_update": [], "mog2": [],
                                   "mog2_update": [], "slow_path": []}
    clock = time.perf_counter_ns
    for i, bgr in enumerate(frames):
        stamp = i / 10.0
        if hot:
            np.copyto(capture, bgr)
            bgr = capture
        t0 = clock()
        small = reduce_frame(bgr, factor, small_ours)
        t1 = clock()
        result = ours.update(small, stamp)
        t2 = clock()
        if hot:
            np.copyto(capture, frames[i])
        t3 = clock()
        small = reduce_frame(bgr, MOG2_FACTOR, small_mog)
        t4 = clock()
        mog.update(small, stamp)
        t5 = clock()
        if i >= warmup:
            times["ours"].append(t2 - t0)
            times["ours_update"].append(t2 - t1)
            times["mog2"].append(t5 - t3)
            times["mog2_update"].append(t5 - t4)
            times["slow_path"].append(int(result.changed_fraction * ours_pixels(small_ours)
                                          >= ours_slow_at(config, small_ours)))
    return times


def ours_pixels(small: npt.NDArray[np.uint8]) -> int:
    """Pixel count of the gate's small frame."""
    return int(small.size)


def ours_slow_at(config: MotionConfig, small: npt.NDArray[np.uint8]) -> float:
    """Changed-pixel count from which the gate takes its slow path (no masks)."""
    return max(config.min_blob_area, config.min_changed_fraction * small.size, 1)


def summarise(name: str, regime: str, times: dict[str, list[int]]) -> dict[str, float]:
    """Median/p90/mean in microseconds under the benchmark's key names."""
    suffix = "" if regime == "hot" else "_cold"
    out: dict[str, float] = {}
    for key, prefix in (("ours", ""), ("mog2", "mog2_quarter_")):
        total = np.asarray(times[key]) / 1000.0
        update = np.asarray(times[f"{key}_update"]) / 1000.0
        out[f"{prefix}{name}{suffix}_us_median"] = round(float(np.median(total)), 2)
        out[f"{prefix}{name}{suffix}_us_p90"] = round(float(np.percentile(total, 90)), 2)
        out[f"{prefix}{name}{suffix}_us_mean"] = round(float(total.mean()), 2)
        out[f"{prefix}{name}{suffix}_update_us_median"] = round(float(np.median(update)), 2)
    out[f"{name}{suffix}_speedup_vs_mog2"] = round(
        out[f"mog2_quarter_{name}{suffix}_us_median"] / out[f"{name}{suffix}_us_median"], 2)
    if regime == "hot":
        out[f"{name}_slow_path_share"] = round(float(np.mean(times["slow_path"])), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure both sizes and regimes; write ``motion_speed.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600, help="frames per size")
    parser.add_argument("--warmup", type=int, default=100, help="untimed leading frames")
    parser.add_argument("--start-s", type=float, default=0.0, help="scene time to start at")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    single_thread()
    results: dict[str, float | int | str] = {
        "frames_timed": args.frames - args.warmup,
        "scene": f"default_scene(0) from {args.start_s:g} s",
        "opencv_threads": cv2.getNumThreads(),
    }
    for name, size in SIZES.items():
        frames = render(size, args.frames, args.start_s)
        gc.collect()
        gc.disable()
        try:
            for regime in ("hot", "cold"):
                times = measure(frames, size, args.warmup, hot=regime == "hot")
                results.update(summarise(name, regime, times))
        finally:
            gc.enable()
        del frames
    results["target_vga_us"] = 50.0
    results["target_hd720_us"] = 100.0
    results["target_speedup"] = 2.5
    if args.no_write:
        from _common import print_table
        print_table(results)
    else:
        write_results("motion_speed", results)
    for name in SIZES:
        print(f"{name}: ours {results[f'{name}_us_median']} us, MOG2 "
              f"{results[f'mog2_quarter_{name}_us_median']} us -> "
              f"{results[f'{name}_speedup_vs_mog2']}x (hot); cold "
              f"{results[f'{name}_cold_us_median']} vs "
              f"{results[f'mog2_quarter_{name}_cold_us_median']} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
