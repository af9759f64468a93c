"""The run's report: what it recorded, the measured always-on baseline, the summary, the report
page, and the exports of the local gateway's store."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wildcam.camera.pir import pir_outcomes
from wildcam.camera.scene import SceneConfig
from wildcam.camera.synthetic import SyntheticScene
from wildcam.errors import WildcamError
from wildcam.report import RunData, build_report, load_run, summarize
from wildcam.report.cli import RUN_FILES, print_summary
from wildcam.report.data import Timebase
from wildcam.run.gateway import LocalGateway
from wildcam.run.plan import CAMERA_HELD, RunOptions

__all__ = ["clock_text", "exports_and_review", "pir_edges", "report_run", "with_measured_baseline"]


def clock_text(scene: SceneConfig | None) -> Callable[[float], str]:
    """Scene seconds as the time of day of the run's report (``HH:MM``)."""
    timebase = Timebase.for_scene(scene) if scene is not None else Timebase()
    return timebase.clock


def pir_edges(options: RunOptions, scene: SyntheticScene | None) -> list[tuple[float, bool]]:
    """The day preset's PIR edges (scene seconds, active) for ``camera/trigger``; says which
    visits the PIR misses and why."""
    if scene is None or options.preset != "day":
        return []
    outcomes = pir_outcomes(scene.config, scene.visit_spans)
    missed = [
        f"{o.species} at {clock_text(scene.config)(o.on_s)}: {o.reason}"
        for o in outcomes
        if not o.noticed
    ]
    print(
        f"PIR: notices {len(outcomes) - len(missed)}/{len(outcomes)} visits"
        + (f" (missed: {'; '.join(missed)})" if missed else "")
    )
    return sorted(e for o in outcomes if o.noticed for e in ((o.on_s, True), (o.off_s, False)))


def with_measured_baseline(
    run: RunData, scene: SceneConfig, cascade: Mapping[str, Any], path: Path
) -> RunData:
    """``run`` with the always-on baseline measured on its scene's frames (saved to ``path``).

    The model, manifest and power profile are the cascade's (its parameters ``cascade``).
    Without a stage-3 model the run keeps the baseline estimated from its own reports.
    """
    profile = str(cascade.get("power_profile", "rpi4b"))
    from wildcam.report.baseline import measure_stage3_joules
    from wildcam.report.metrics import estimate_baseline

    synthetic = SyntheticScene(scene)
    picks = [
        synthetic.render(i) for i in range(0, synthetic.n_frames, max(1, synthetic.n_frames // 5))
    ][:5]
    try:
        joules, model_id = measure_stage3_joules(
            picks,
            profile,
            str(cascade.get("manifest", "")),
            str(cascade.get("stage3_model", "default")),
        )
    except (WildcamError, ImportError) as err:  # no stage-3 model, or no cascade at all
        print(f"note: always-on baseline not measured ({err})")
        return run
    baseline = estimate_baseline(
        run, joules, f"{model_id} on whole frames, measured here under the {profile} profile"
    )
    if baseline is None:
        return run
    path.write_text(json.dumps(baseline.to_dict()))
    return dataclasses.replace(run, baseline=baseline)


def report_run(
    out: Path,
    scene: SceneConfig | None,
    listing: list[Any] | None,
    fps: float,
    cascade: Mapping[str, Any],
    started: float,
) -> None:
    """Load what the run recorded into ``<out>/bag``, measure the baseline on a synthetic
    scene, write the report page and print the summary (``started``: the run's monotonic
    start)."""
    run = load_run(out / "bag", scene, gateway=listing, fps=fps)
    if scene is not None:
        run = dataclasses.replace(
            run,
            notes=(
                *run.notes,
                (
                    "the per-mode camera settings ("
                    + ", ".join(CAMERA_HELD)
                    + ") were held at the "
                    "scene's rate: the scene plays at its own rate"
                ),
            ),
        )
        run = with_measured_baseline(run, scene, cascade, out / RUN_FILES["baseline"])
    summary = summarize(run)
    page = build_report(run, out, summary)
    print(f"\nsummary ({time.monotonic() - started:.0f} s wall):")
    print_summary(summary)
    print(f"report: {page}   (node logs in {out / 'logs'}/)")


def exports_and_review(options: RunOptions, out: Path, gateway: LocalGateway) -> None:
    """``<out>/camtrap-dp/`` and ``<out>/detections.json`` from the run's gateway store; with
    ``keep_gateway``, serve the review page until Ctrl-C."""
    from wildcam.ecology.cli import run_exports

    where = "0,0" if options.synthetic else ""  # a synthetic scene stands nowhere
    for line in run_exports(out, out / "gateway", where):
        print(line)
    if where:
        print(
            "camtrap-dp: the synthetic scene has no place: its deployment is at 0,0 "
            "(give --param uploader.location=LAT,LON)"
        )
    if options.keep_gateway and gateway.process.poll() is None:
        print(
            f"review page: {gateway.url}/review/ (token in {gateway.token_file}); the "
            "gateway keeps serving until Ctrl-C",
            flush=True,
        )
        gateway.serve_until_interrupted()
