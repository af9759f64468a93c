"""Energy per day: the standard day through the real graph against an always-on baseline.

**The run.** ``wildcam run``'s machinery (:func:`wildcam.run.main.run`) plays the day preset
(240 scene seconds at 10 fps = 24 simulated hours: IR night, dawn, day with breeze, a gusty
spell and a rain shower, dusk, night again; six animal visits with ground truth) through the
whole graph — camera, motion gate, cascade, uploader to a local gateway, power manager and
simulated battery on the simulated clock — into ``--out`` (default ``build/bench-energy``,
with the run's report). Every figure of the run comes from its recording
(:func:`wildcam.report.load_run`): the energy reports the nodes published, the gateway's
listing and the ground truth.

**What is counted.**

* ``joules_per_day``: the stack's *stage* energy — capture (camera CPU + the profile's
  per-frame camera energy), motion gate, cascade stages 1-3, JPEG encode, upload (radio J/MB
  and tails) — as the nodes measured it (thread CPU time x the profile's slowdown x busy-core
  power), per day of a camera at the scene's frame rate: the run's joules x 86400 / scene
  seconds. The compressed day packs a day's light and weather and six visits into 2400 frames;
  a real camera at 10 fps sees 360 times as many frames a day, so this repeats the compressed
  day's activity (six visits every four minutes) — pessimistic for the gated stack.
* ``idle_joules_per_day``: the board's idle power (``idle_w`` of the profile) x 86400, counted
  once for the device and the same for the baseline; left out of the stage figures and ratios.
* ``projected_battery_days``: the run's battery (``power/battery`` capacity, the simulated
  37 Wh) over idle + stage energy per day, no charging; the same for the baseline.
* ``event_recall``: share of ground-truth visits with an item *received by the gateway* whose
  frame lies in the visit (1 s slack at both ends, :func:`wildcam.report.metrics.recalled`);
  ``cascade_event_recall`` counts the cascade's ``detections`` in the recording instead.

**Device states, second run.** The runs above hold the trap warm
(``power_manager.override_state=warm``), so the stack's stages compare with the baseline on the
same frames. A second run plays the same day with the day preset's device-state policy (watch
and PIR triggers through the active hours, halted outside them): ``states_*`` keys give its
event recall, hours per state, the visits it missed and why, and the board's average power by
state (modelled: the profile's state powers over the simulated time in each state, idle
included) against the always-warm run's (``board_energy_ratio_states``).

**The always-on baseline, same run.** The cascade's default stage-3 model (loaded as the
cascade loads it: ``CascadeConfig`` defaults, its manifest, ONNX Runtime on one thread; without
the people-and-vehicles check, which the stack pays for and the baseline does not) on every
frame at the same frame rate, no motion gate. After the graph has stopped, this process runs
it through :class:`~wildcam.cascade.runner.Cascade` with only stage 3 enabled — so a whole frame
is decided by the cascade's own rule for its last stage (score >= the model's ``c_high``; inside
``[c_low, c_high)``, >= ``decision_threshold``); one positive frame counts, as there are no
motion events to smooth over — on every frame of each visit (with the same 1 s slack) and on
``--empty-frames`` frames spread over the rest of the day (night, rain, wind), rendered by
:class:`~wildcam.camera.synthetic.SyntheticScene`. ``baseline_event_recall`` is scored with the
same :func:`recalled` as the run; ``baseline_event_recall_localized`` counts only frames where a
box the same rule calls an animal overlaps the true animal (IoU >= 0.3), since the rule also fires
on boxes in the vegetation (``baseline_false_frame_rate``). Its energy: the mean measured joules
per stage-3 call (thread CPU time of each call under the same profile) x the run's frames, plus
the run's own capture energy; no encode or upload is charged to it (in its favour).

``energy_ratio_vs_baseline`` compares total stage energy; ``analysis_energy_ratio`` compares
the analysis alone (motion gate + cascade stages against the large model on every frame). The
target (at least 20x less energy at >= 0.95 of the baseline's event recall) is checked for each.
Both sides pay the same capture energy, so the total ratio can never exceed
``energy_ratio_capture_bound`` (the baseline over capture alone: the ratio if every other stage
of the stack were free).

Usage: ``.venv/bin/python bench/energy.py [--speed 2] [--seed 0] [--empty-frames 150]
[--param NODE.NAME=VALUE ...] [--no-write]``
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import REPO, print_table, single_thread, write_results
from wildcam.camera.scene import SceneConfig
from wildcam.camera.synthetic import SyntheticScene
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.loader import load_stages
from wildcam.cascade.runner import Cascade, decides_animal
from wildcam.power.profile import load_profile
from wildcam.report import RunData, load_run, summarize
from wildcam.report.cli import RUN_FILES
from wildcam.report.data import TruthVisit
from wildcam.report.metrics import ANALYSIS_STAGES, STAGES, Summary, recalled
from wildcam.run.main import run
from wildcam.run.plan import RunOptions, run_scene
from wildcam.types import DAY_S

SLACK_S = 1.0  # the report's tolerance at both ends of a visit
TARGET_RATIO = 20.0
TARGET_RECALL_FRACTION = 0.95
SIM_BATTERY_WH = 37.0  # wildcam.run.plan.SIM_BATTERY's capacity, when power/battery gives none
LOCALIZED_IOU = 0.3  # a baseline box "on the animal" for the localized recall
ALWAYS_WARM = ("power_manager.override_state=warm",)  # the stack without device states


def play_day(options: RunOptions) -> RunData:
    """Run the day through the graph into ``options.out`` and load what it recorded."""
    code = run(options)
    if code != 0:
        raise SystemExit(f"bench/energy: the run failed (exit {code}); see {options.out}/logs")
    out = options.out
    files = {role: out / name for role, name in RUN_FILES.items()}
    return load_run(
        out / "bag",
        run_scene(options),
        gateway=files["gateway"] if files["gateway"].is_file() else None,
        baseline=files["baseline"] if files["baseline"].is_file() else None,
    )


def visit_frames(scene: SceneConfig, visits: tuple[TruthVisit, ...], n_frames: int) -> list[int]:
    """Every frame inside a visit, with the slack at both ends."""
    inside: set[int] = set()
    for v in visits:
        first = max(0, int((v.start_s - SLACK_S) * scene.fps + 0.999))
        last = min(n_frames - 1, int((v.end_s + SLACK_S) * scene.fps))
        inside.update(range(first, last + 1))
    return sorted(inside)


def empty_frames(
    scene: SceneConfig, visits: tuple[TruthVisit, ...], n_frames: int, count: int
) -> list[int]:
    """``count`` frames evenly spread over the day, each more than 2 s from any visit."""
    margin = 2.0
    free = [
        i
        for i in range(n_frames)
        if not any(v.start_s - margin <= i / scene.fps <= v.end_s + margin for v in visits)
    ]
    step = max(1, len(free) // max(1, count))
    return free[::step][:count]


class AlwaysOn:
    """The cascade's default stage-3 model alone on whole frames, each call's CPU time kept
    (without the people-and-vehicles check, which would only make the baseline dearer)."""

    def __init__(self) -> None:
        config = dataclasses.replace(
            CascadeConfig(), stage1_model="", stage2_model="", people_vehicles=False
        )
        models = {s: m for s, m in load_stages(config).items() if m is not None}
        self.model_id = models[3].model_id
        self.cpu_s: list[float] = []
        self.cascade = Cascade(models, config, self._measure)
        self.profile = load_profile(config.power_profile)
        self.band = config.band(3, models[3].c_low, models[3].c_high)

    @contextmanager
    def _measure(self, _stage: str) -> Iterator[None]:
        start = time.thread_time()
        yield
        self.cpu_s.append(time.thread_time() - start)

    def decide(self, scene: SyntheticScene, index: int) -> tuple[bool, bool]:
        """(animal, localized) for frame ``index`` decided by the model alone.

        ``localized``: also a box the same rule calls an animal overlaps a true animal with an
        IoU of at least :data:`LOCALIZED_IOU`.
        """
        region = self.cascade.run(scene.render(index)).regions[0]
        truth = scene.truth(index).boxes
        c_low, c_high = self.band
        threshold = self.cascade.config.decision_threshold
        localized = any(
            decides_animal(b.score, c_low, c_high, threshold)
            and any(b.box.iou(t) >= LOCALIZED_IOU for t in truth)
            for b in region.boxes
        )
        return region.animal, region.animal and localized

    def joules_per_call(self) -> float:
        """Mean energy of one call under the profile (the nodes sum every call the same way)."""
        return self.profile.cpu_joules(statistics.fmean(self.cpu_s))


def measure_baseline(
    scene: SceneConfig, run: RunData, empty_count: int
) -> dict[str, float | int | str]:
    """Recall, false-frame rate and per-call cost of the always-on model on the run's scene."""
    synthetic = SyntheticScene(scene)
    always = AlwaysOn()
    always.decide(synthetic, 0)  # warm-up call, not counted
    always.cpu_s.clear()
    in_visits = visit_frames(scene, run.visits, run.frames)
    decided = {i: always.decide(synthetic, i) for i in in_visits}
    found = recalled(run.visits, [i / scene.fps for i, (a, _) in decided.items() if a], SLACK_S)
    on_animal = recalled(
        run.visits, [i / scene.fps for i, (_, on) in decided.items() if on], SLACK_S
    )
    strict = [
        i for i in in_visits if any(v.start_s <= i / scene.fps <= v.end_s for v in run.visits)
    ]
    empties = empty_frames(scene, run.visits, run.frames, empty_count)
    false = sum(always.decide(synthetic, i)[0] for i in empties)
    false_rate = false / len(empties) if empties else 0.0
    n_visits = len(run.visits)
    return {
        "baseline_stage3_model": always.model_id,
        "baseline_stage3_calls": len(always.cpu_s),
        "baseline_stage3_cpu_ms_median": round(1000 * statistics.median(always.cpu_s), 2),
        "baseline_stage3_j_per_call": round(always.joules_per_call(), 5),
        "baseline_visits_detected": len(found),
        "baseline_event_recall": round(len(found) / n_visits, 4) if n_visits else 1.0,
        "baseline_event_recall_localized": round(len(on_animal) / n_visits, 4)
        if n_visits
        else 1.0,
        "baseline_visit_frames": len(in_visits),
        "baseline_visit_frame_hit_rate": round(sum(decided[i][0] for i in strict) / len(strict), 4)
        if strict
        else 0.0,
        "baseline_visit_frame_localized_rate": round(
            sum(decided[i][1] for i in strict) / len(strict), 4
        )
        if strict
        else 0.0,
        "baseline_empty_frames": len(empties),
        "baseline_false_frame_rate": round(false_rate, 4),
        "baseline_false_frames_per_day": round(false_rate * scene.fps * DAY_S, 1),
    }


def device_states(options: RunOptions, warm: Summary) -> dict[str, float | int | str]:
    """The same day with the device-state policy (warm / watch / sleep) against the always-warm
    run: the board's energy by state (the power manager's ledger replayed over the simulated
    day, idle included) and what the states cost in visits, with the reason for each miss."""
    summary = summarize(play_day(options), SLACK_S)
    with_states, always = summary.states, warm.states
    if with_states is None or always is None:
        raise SystemExit("bench/energy: a run recorded no power/state")
    return {
        "states_policy": "the day preset's device-state policy (wildcam.run.plan.DAY_STATES)",
        "states_event_recall": round(summary.event_recall or 0.0, 4),
        "states_visits_detected": summary.visits_detected,
        **{
            f"states_hours_{s}": round(with_states.hours.get(s, 0.0), 2)
            for s in ("warm", "watch", "sleep")
        },
        **{f"states_missed_{why.replace(' ', '_')}": n for why, n in with_states.missed.items()},
        "states_board_average_w": round(with_states.average_w, 3),
        "always_warm_board_average_w": round(always.average_w, 3),
        "board_energy_ratio_states": round(always.average_w / with_states.average_w, 2)
        if with_states.average_w > 0
        else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """Play the day, measure the baseline on its frames; write ``energy.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="scene seed")
    parser.add_argument("--speed", type=float, default=2.0, help="scene seconds per wall second")
    parser.add_argument(
        "--empty-frames",
        type=int,
        default=150,
        help="frames away from any visit for the baseline's false-frame rate",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "build" / "bench-energy",
        help="the run's directory (bag, logs, report)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NODE.NAME=VALUE",
        help="a parameter for both runs (as `wildcam run --param`), e.g. to measure a lever",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    single_thread()
    started = time.monotonic()
    options = RunOptions(
        preset="day",
        seed=args.seed,
        speed=args.speed,
        out=args.out,
        params=(*ALWAYS_WARM, *args.param),
    )
    scene = run_scene(options)
    run = play_day(options)
    run_wall_s = time.monotonic() - started
    summary = summarize(run, SLACK_S)
    states = device_states(
        dataclasses.replace(options, out=args.out / "states", params=tuple(args.param)), summary
    )
    per_day = DAY_S / run.duration_s  # run joules -> joules per day at the scene's rate
    stages = run.joules_by_stage()
    stage_j = sum(stages.values())
    analysis_j = sum(j for s, j in stages.items() if s in ANALYSIS_STAGES)
    idle_w = run.idle_w or 0.0
    battery_j = summary.battery_capacity_j or SIM_BATTERY_WH * 3600.0

    base = measure_baseline(scene, run, args.empty_frames)
    base_stage3_j = float(base["baseline_stage3_j_per_call"]) * run.frames
    capture_j = stages.get("capture", 0.0)
    base_j = capture_j + base_stage3_j
    energy_ratio = base_j / stage_j if stage_j > 0 else float("inf")
    analysis_ratio = base_stage3_j / analysis_j if analysis_j > 0 else float("inf")
    base_recall = float(base["baseline_event_recall"])
    recall_fraction = summary.event_recall / base_recall if base_recall > 0 else 1.0
    recall_ok = recall_fraction >= TARGET_RECALL_FRACTION

    def days(joules_per_day: float) -> float:
        return round(battery_j / (idle_w * DAY_S + joules_per_day), 3)

    report_stage3 = (
        run.baseline.joules_by_stage.get("cascade_stage3", 0.0) / run.frames
        if run.baseline is not None and run.frames
        else None
    )
    results: dict[str, float | int | str | bool | None] = {
        "scene": f"day preset (seed {args.seed}): {scene.duration_s:g} s at {scene.fps:g} fps "
        f"= 24 simulated h, {len(scene.visits)} visits, played at {args.speed:g}x "
        "through the whole graph",
        "profile": ",".join(sorted({e.profile for e in run.energy})),
        "frames": run.frames,
        "run_wall_s": round(run_wall_s, 1),
        "per_day_basis": f"run joules x {per_day:g}: a camera at {scene.fps:g} fps for 24 h, "
        "the compressed day's activity repeated",
        "stages_counted": "capture, motion, cascade_stage1-3, encode, upload (idle apart)",
        "run_stage_joules": round(stage_j, 3),
        "joules_per_day": round(stage_j * per_day, 1),
        **{f"j_per_day_{s}": round(stages.get(s, 0.0) * per_day, 1) for s in STAGES},
        "idle_w": idle_w,
        "idle_joules_per_day": round(idle_w * DAY_S, 1),
        "battery_wh": round(battery_j / 3600.0, 2),
        "projected_battery_days": days(stage_j * per_day),
        "visits": summary.visits,
        "visits_detected": summary.visits_detected,
        "event_recall_source": "items received by the gateway"
        if summary.detected_source == "gateway"
        else "cascade detections in the recording",
        "event_recall": round(summary.event_recall, 4),
        "cascade_event_recall": round(
            len(recalled(run.visits, [d.t_s for d in run.detections], SLACK_S)) / len(run.visits),
            4,
        )
        if run.visits
        else 1.0,
        "motion_visits_recalled": summary.motion_visits_recalled,
        "false_uploads": summary.false_uploads,
        **base,
        "baseline_rule": "cascade with stage 3 only on the whole frame: animal if score >= "
        "c_high, or inside [c_low, c_high) and >= decision_threshold",
        "baseline_joules_per_day": round(base_j * per_day, 1),
        "baseline_analysis_joules_per_day": round(base_stage3_j * per_day, 1),
        "analysis_joules_per_day": round(analysis_j * per_day, 1),
        "baseline_projected_battery_days": days(base_j * per_day),
        "report_stage3_j_per_call": None if report_stage3 is None else round(report_stage3, 5),
        "energy_ratio_vs_baseline": round(energy_ratio, 2),
        "analysis_energy_ratio": round(analysis_ratio, 2),
        "energy_ratio_capture_bound": round(base_j / capture_j, 2) if capture_j > 0 else None,
        "recall_vs_baseline": round(recall_fraction, 4),
        "target_energy_ratio": TARGET_RATIO,
        "target_recall_fraction": TARGET_RECALL_FRACTION,
        "recall_met": recall_ok,
        "energy_ratio_met": recall_ok and energy_ratio >= TARGET_RATIO,
        "analysis_ratio_met": recall_ok and analysis_ratio >= TARGET_RATIO,
        **states,
        "bench_wall_s": round(time.monotonic() - started, 1),
    }
    if args.no_write:
        print_table(results)
    else:
        write_results("energy", results)
    print(
        f"stage energy {results['joules_per_day']} J/day vs always-on "
        f"{results['baseline_joules_per_day']} J/day -> {results['energy_ratio_vs_baseline']}x "
        f"(analysis alone {results['analysis_energy_ratio']}x); event recall "
        f"{results['event_recall']} vs {results['baseline_event_recall']}; battery "
        f"{results['projected_battery_days']} vs {results['baseline_projected_battery_days']} "
        f"days (+{results['idle_joules_per_day']} J/day idle)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
