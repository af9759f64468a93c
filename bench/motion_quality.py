"""Motion-gate quality: event recall and false events per hour, ours against MOG2.

Synthetic part: the default, nuisance and day scenes of ``wildcam.camera`` (several seeds),
rendered at 640x480 and fed to :class:`MotionGate` and to the :class:`Mog2Gate` baseline in
the same pass. A ground-truth visit is recalled if a detected event overlaps it in time; a
detected event that overlaps no visit is a false event, counted per hour of scene time.

Real part: the clips under ``videos/zamba`` and ``videos/bgslibrary`` of the data directory
(``--data``, else ``$WILDCAM_DATA``, else ``../shared/data``). They have no ground truth, so
only per-clip event counts and, on the zamba clips, detected IR switches are reported.

Usage: ``PYTHONPATH=src python bench/motion_quality.py [--seeds 0 1 2] [--data DIR]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from _common import data_dir, print_table, write_results
from wildcam.camera.presets import day_scene, default_scene, nuisance_scene
from wildcam.camera.scene import SceneConfig
from wildcam.camera.synthetic import SyntheticScene
from wildcam.evaluation import Span, score_events
from wildcam.motion import (
    MOG2_FACTOR,
    Gate,
    Mog2Gate,
    MotionConfig,
    MotionGate,
    MotionResult,
    chroma,
    reduce_frame,
)

GateFactory = Callable[[tuple[int, int]], tuple[Gate, int]]
VIDEO_SUFFIXES = {".avi", ".mp4", ".asf", ".mov", ".mkv"}


def ours(config: MotionConfig) -> GateFactory:
    """Factory of our gate and its reduction factor for a full frame size."""

    def make(size: tuple[int, int]) -> tuple[Gate, int]:
        return MotionGate(config, size), config.factor_for(size[0])

    return make


def mog2(config: MotionConfig) -> GateFactory:
    """Factory of the MOG2 baseline (quarter scale; full scale for tiny clips)."""

    def make(size: tuple[int, int]) -> tuple[Gate, int]:
        return Mog2Gate(config, size), MOG2_FACTOR if size[0] >= 320 else 1

    return make


class EventLog:
    """Collects the events and IR switches a gate reports over one stream."""

    def __init__(self) -> None:
        self.events: list[Span] = []
        self.ir_switches = 0
        self.illumination_changes = 0
        self.switch_stamps: list[float] = []
        self._open: float | None = None
        self._last = 0.0

    def add(self, result: MotionResult) -> None:
        """Record one frame's result."""
        self._last = result.stamp
        self.illumination_changes += result.illumination_change
        if result.ir_switch:
            self.ir_switches += 1
            self.switch_stamps.append(result.stamp)
        if result.event_started:
            self._open = result.stamp
        if result.event_ended and self._open is not None:
            self.events.append((self._open, result.stamp))
            self._open = None

    def close(self) -> list[Span]:
        """Close an event still open at the end of the stream; return all events."""
        if self._open is not None:
            self.events.append((self._open, self._last))
            self._open = None
        return self.events


def run_stream(
    frames: Iterable[tuple[npt.NDArray[np.uint8], float]],
    size: tuple[int, int],
    factories: dict[str, GateFactory],
) -> dict[str, EventLog]:
    """Feed one stream of BGR frames to every gate; return each gate's event log."""
    made = {name: make(size) for name, make in factories.items()}
    logs = {name: EventLog() for name in factories}
    for bgr, stamp in frames:
        c = chroma(bgr)
        for name, (gate, factor) in made.items():
            logs[name].add(gate.update(reduce_frame(bgr, factor), stamp, chroma=c))
    for log in logs.values():
        log.close()
    return logs


def scene_frames(scene: SyntheticScene) -> Iterator[tuple[npt.NDArray[np.uint8], float]]:
    """Every frame of a synthetic scene with its stamp."""
    for i in range(scene.n_frames):
        yield scene.render(i), scene.stamp(i)


def synthetic(
    seeds: list[int], factories: dict[str, GateFactory], day_s: float, verbose: bool = False
) -> dict[str, float | int]:
    """Recall and false events per hour over the preset scenes for every gate."""
    scenes: list[tuple[str, Callable[[int], SceneConfig]]] = [
        ("default", default_scene),
        ("nuisance", nuisance_scene),
        ("day", lambda seed: day_scene(day_s, seed)),
    ]
    visits = {name: 0 for name in factories}
    recalled = {name: 0 for name in factories}
    false = {name: 0 for name in factories}
    causes: dict[str, dict[str, int]] = {name: {} for name in factories}
    in_events = {name: 0.0 for name in factories}
    switches = found = spurious = 0
    hours = 0.0
    per_scene: dict[str, float | int] = {}
    for seed in seeds:
        for label, preset in scenes:
            scene = SyntheticScene(preset(seed))
            truth = [(e.start_s, e.end_s) for e in scene.events]
            logs = run_stream(scene_frames(scene), (scene.width, scene.height), factories)
            hours += scene.config.duration_s / 3600
            true_switches = scene.nuisance_intervals.get("ir_switch", ())
            stamps = logs["ours"].switch_stamps
            switches += len(true_switches)
            found += sum(any(i.start_s <= t < i.end_s for t in stamps) for i in true_switches)
            spurious += sum(
                not any(i.start_s <= t < i.end_s for i in true_switches) for t in stamps
            )
            for name, log in logs.items():
                in_events[name] += sum(b - a for a, b in log.events)
                score = score_events(log.events, truth, slack_s=0.0)
                hit, wrong = score.recalled, score.false_spans
                visits[name] += len(truth)
                recalled[name] += hit
                false[name] += len(wrong)
                for start, _ in wrong:
                    active = scene.truth(round(start * scene.config.fps)).nuisances
                    for kind in sorted(active) or ["none"]:
                        causes[name][kind] = causes[name].get(kind, 0) + 1
                per_scene[f"{name}_{label}_s{seed}_false"] = len(wrong)
                per_scene[f"{name}_{label}_s{seed}_missed"] = len(truth) - hit
                if verbose and wrong:
                    print(
                        f"{name} {label} seed {seed}: false events at "
                        + ", ".join(f"{a:.1f}-{b:.1f}s" for a, b in wrong)
                    )
    out: dict[str, float | int] = {}
    for name in factories:
        prefix = "" if name == "ours" else f"{name}_"
        out[f"{prefix}synthetic_event_recall"] = recalled[name] / max(visits[name], 1)
        out[f"{prefix}synthetic_false_events_per_hour"] = false[name] / hours
        out[f"{prefix}synthetic_false_events"] = false[name]
        out[f"{prefix}synthetic_event_time_share"] = round(in_events[name] / (hours * 3600), 4)
        for kind, count in sorted(causes[name].items()):
            out[f"{prefix}synthetic_false_events_during_{kind}"] = count
    out["synthetic_ir_switches"] = switches
    out["synthetic_ir_switches_detected"] = found
    out["synthetic_ir_switch_flags_spurious"] = spurious
    out["synthetic_visits"] = visits["ours"]
    out["synthetic_hours"] = round(hours, 4)
    out["synthetic_seeds"] = len(seeds)
    if verbose:
        print_table(per_scene)
    return out


def video_frames(path: Path) -> Iterator[tuple[npt.NDArray[np.uint8], float]]:
    """Decoded BGR frames of a clip with their stamps (frame index / fps)."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 1.0
    if not 0 < fps < 1000:
        fps = 1.0
    index = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            yield np.ascontiguousarray(frame), index / fps
            index += 1
    finally:
        cap.release()


_PROBE = """
import sys, cv2
cap = cv2.VideoCapture(sys.argv[1])
while cap.read()[0]:
    pass
"""


def decode_problem(path: Path) -> str | None:
    """Why ``path`` cannot be decoded safely, or None.

    Decoding runs in a child process first because OpenCV's FFmpeg reader aborts the whole
    interpreter on some files (heap corruption on ``bgslibrary/demo.avi`` with OpenCV 5.0).
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path)],
            capture_output=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "decoding timed out"
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        return f"decoder crashed (exit {done.returncode}: {tail[0][:80]})"
    return None


def real_clips(root: Path, factories: dict[str, GateFactory]) -> dict[str, float | int | str]:
    """Per-clip event counts on the real clips (no ground truth)."""
    out: dict[str, float | int | str] = {}
    totals = {name: 0 for name in factories}
    ir = {name: 0 for name in factories}
    light = 0
    clips = skipped = 0
    for folder in ("zamba", "bgslibrary"):
        for path in sorted((root / "videos" / folder).glob("*")):
            if path.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            problem = decode_problem(path)
            if problem is not None:
                print(f"skip {folder}/{path.name}: {problem}")
                skipped += 1
                continue
            first = next(video_frames(path), None)
            if first is None:
                print(f"skip {path.name}: no frames decoded")
                continue
            size = (first[0].shape[1], first[0].shape[0])
            logs = run_stream(video_frames(path), size, factories)
            clips += 1
            key = f"{folder}_{path.stem[:40]}"
            for name, log in logs.items():
                prefix = "" if name == "ours" else f"{name}_"
                out[f"{prefix}real_events_{key}"] = len(log.events)
                totals[name] += len(log.events)
                if folder == "zamba":
                    ir[name] += log.ir_switches
                    if name == "ours":
                        light += log.illumination_changes
            out[f"real_ir_switches_{key}"] = logs["ours"].ir_switches
    summary: dict[str, float | int | str] = {"real_clips": clips, "real_clips_skipped": skipped}
    for name in factories:
        prefix = "" if name == "ours" else f"{name}_"
        summary[f"{prefix}real_events_total"] = totals[name]
    summary["real_ir_switches_detected"] = ir["ours"]
    summary["real_illumination_changes_detected"] = light
    summary.update(out)
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the synthetic and real-clip evaluations and write ``motion_quality.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--day-s", type=float, default=600.0, help="day scene length (s)")
    parser.add_argument("--data", default=None, help="real data directory")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--verbose", action="store_true", help="per-scene counts and times")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    config = MotionConfig()
    factories = {"ours": ours(config), "mog2": mog2(config)}
    results: dict[str, float | int | str | bool | None] = {}
    results.update(synthetic(args.seeds, factories, args.day_s, args.verbose))
    ours_fph = results["synthetic_false_events_per_hour"]
    mog_fph = results["mog2_synthetic_false_events_per_hour"]
    assert isinstance(ours_fph, float) and isinstance(mog_fph, float)
    results["false_events_ratio_vs_mog2"] = ours_fph / mog_fph if mog_fph else None
    root = data_dir(args.data)
    if (root / "videos").is_dir():
        results.update(real_clips(root, factories))
    else:
        print(f"real clips skipped: {root / 'videos'} not found (use --data or WILDCAM_DATA)")
        results["real_clips"] = 0
    if args.no_write:
        print_table(results)
    else:
        write_results("motion_quality", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
