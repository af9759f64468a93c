"""The day report from a run with known content (see conftest.py): numbers, figures, page."""

from __future__ import annotations

import json
import math
import re
from html import escape
from pathlib import Path

import matplotlib.image
import pytest
from report_helpers import (  # type: ignore[import-not-found]
    CAPACITY_AH,
    DETECTION_FRAMES,
    FPS,
    FRAMES,
    MODES,
    MOTION,
    SCENE,
    VOLTAGE,
    KnownRun,
)

from wildcam.camera.synthetic import SyntheticScene
from wildcam.cli import main
from wildcam.errors import BagError, InputError
from wildcam.report import FIGURES, Baseline, RunData, build_report, load_run, summarize
from wildcam.report.data import Timebase

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(known_run: KnownRun) -> RunData:
    """The known run loaded with its gateway listing."""
    return load_run(known_run.bag, SCENE, gateway=known_run.gateway)


def test_times_map_to_scene_frames(run: RunData) -> None:
    assert run.frames == FRAMES and run.duration_s == pytest.approx(FRAMES / FPS)
    assert [(m.event_id, m.start_s, m.end_s) for m in run.motion] == [
        (e, pytest.approx(a / FPS), pytest.approx(b / FPS)) for e, (a, b) in MOTION.items()
    ]
    assert [d.t_s for d in run.detections] == [pytest.approx(k / FPS) for k in DETECTION_FRAMES]
    assert [(m.mode_name, m.t_s) for m in run.modes] == [
        (name, pytest.approx(k / FPS, abs=0.01)) for k, _, name, _ in MODES
    ]
    assert sorted({i.t_s for i in run.gateway or ()}) == [
        pytest.approx(k / FPS) for k in sorted(DETECTION_FRAMES)
    ]


def test_summary_numbers_equal_the_known_input(run: RunData, known_run: KnownRun) -> None:
    summary = summarize(run)
    assert summary.visits == 3 and summary.visits_detected == 2
    assert summary.event_recall == pytest.approx(known_run.recall)
    assert summary.detected_source == "gateway"
    assert (summary.false_uploads, summary.false_upload_bytes) == (
        known_run.false_uploads,
        known_run.false_upload_bytes,
    )
    assert summary.motion_events == 3 and summary.false_motion_events == 1
    # The expected figures are worked out by hand from the known input (report_helpers: six
    # energy reports of capture 1.0 + motion 0.5 + stage 1 0.2 + upload 0.3 J, one stage-3
    # call of 0.9 J; 600 frames = 60 scene s = one compressed day; 2 Ah at 3.7 V; the rpi4b
    # profile idles at 2.85 W), not computed with the summary's own formulas.
    assert summary.total_j == pytest.approx(12.9)  # 6 x 2.0 + 0.9
    assert summary.joules_per_detected_visit == pytest.approx(6.45)  # 12.9 J / 2 visits
    assert summary.simulated_h == pytest.approx(24.0)  # one compressed day
    assert summary.joules_per_day == pytest.approx(18576.0)  # 12.9 J per 60 s x 1440
    assert summary.battery_capacity_j == pytest.approx(26640.0)  # 2 Ah x 3600 x 3.7 V
    assert run.idle_w == 2.85
    # 26640 J / (2.85 W x 86400 s + 18576 J) per day
    assert summary.projected_battery_days == pytest.approx(0.10060, rel=1e-4)
    assert summary.mode_switches == len(MODES) - 1
    assert (
        summary.lifetime.endswith("PIR wake; wildcam lifetime)")
        and "no solar" in summary.lifetime
        and "with a 10 W panel" in summary.lifetime
    )
    # always-on: stage 3 (0.9 J per call measured) on all 600 frames = 540 J, capture and
    # upload as the run had them (6 x 1.3 J)
    assert summary.baseline_total_j == pytest.approx(547.8)
    assert summary.energy_ratio == pytest.approx(42.465, rel=1e-4)  # 547.8 / 12.9
    assert summary.analysis_ratio == pytest.approx(105.88, rel=1e-4)  # 540 / (6 x 0.7 + 0.9)
    # 26640 J / (246240 + 547.8 x 1440) J per day
    assert summary.baseline_battery_days == pytest.approx(0.025737, rel=1e-4)


def test_without_gateway_recall_counts_cascade_detections(known_run: KnownRun) -> None:
    summary = summarize(load_run(known_run.bag, SCENE))
    assert summary.detected_source == "detections"
    assert summary.event_recall == pytest.approx(2 / 3)
    assert summary.false_uploads is None and summary.gateway_items is None


def test_report_page_lists_every_figure_and_the_table(run: RunData, tmp_path: Path) -> None:
    page = build_report(run, tmp_path / "out")
    html = page.read_text(encoding="utf-8")
    assert page.name == "report.html"
    assert len(FIGURES) == 4
    for spec in FIGURES:
        assert f'<img src="{spec.name}"' in html
        png = page.parent / spec.name
        assert png.read_bytes()[:8] == PNG_MAGIC
        pixels = matplotlib.image.imread(png)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert pixels.std() > 0.01  # something was drawn
    summary = summarize(run)
    for key, value in summary.rows():
        assert f"<td>{escape(key)}</td><td>{escape(value)}</td>" in html
    assert "0.67 (2/3 visits detected at the gateway)" in html
    assert "1 (250 bytes)" in html
    # every mode switch with its reason, escaped
    assert escape("battery < 40 % & falling") in html and "battery < 40" not in html
    assert len(re.findall(r"<tr><td>\d+</td><td>\d\d:\d\d</td>", html)) == len(MODES)


def test_timebase_of_a_compressed_day() -> None:
    tb = Timebase.for_scene(SCENE)
    assert tb.time_scale == pytest.approx(1440.0)
    assert tb.clock(0.0) == "06:00" and tb.clock(30.0) == "18:00" and tb.clock(45.0) == "00:00"
    assert not Timebase().is_day and Timebase().clock(2.5) == "2.5 s"


def test_battery_without_capacity_projects_nothing(run: RunData) -> None:
    import dataclasses

    no_capacity = dataclasses.replace(
        run, battery=tuple(dataclasses.replace(b, capacity_ah=math.nan) for b in run.battery)
    )
    summary = summarize(no_capacity)
    assert summary.projected_battery_days is None and summary.baseline_battery_days is None
    assert "no battery capacity" in summary.projection_basis


def test_bad_inputs_raise_wildcam_errors(known_run: KnownRun, tmp_path: Path) -> None:
    with pytest.raises(BagError):
        load_run(tmp_path / "missing", SCENE)
    bad = tmp_path / "gateway.json"
    bad.write_text(json.dumps({"items": "nope"}))
    with pytest.raises(InputError):
        load_run(known_run.bag, SCENE, gateway=bad)
    bad.write_text("{not json")
    with pytest.raises(InputError):
        load_run(known_run.bag, SCENE, gateway=bad)


def test_report_command(
    known_run: KnownRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = tmp_path / "truth.json"
    SyntheticScene(SCENE).write_ground_truth(truth)
    out = tmp_path / "out"
    code = main(
        [
            "report",
            str(known_run.bag),
            "--truth",
            str(truth),
            "--gateway",
            str(known_run.gateway),
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert (out / "report.html").is_file() and all((out / f.name).is_file() for f in FIGURES)
    assert "0.67 (2/3 visits detected at the gateway)" in printed
    # the battery line is the lifetime model's, for the run's profile and capacity
    assert f"(rpi4b, {CAPACITY_AH * VOLTAGE:.0f} Wh, 17 events/day nocturnal" in printed
    # and, the run's device not being the shipped one, the shipped device's on the same battery
    _, shipped = printed.split("the shipped device on the same battery: ")
    assert (
        f"(pizero2w_mcu, {CAPACITY_AH * VOLTAGE:.0f} Wh, 17 events/day" in shipped.split("\n")[0]
    )
    # without ground truth (a real camera): the report, with nothing scored against visits
    assert main(["report", str(known_run.bag), "--out", str(tmp_path / "real")]) == 0
    printed = capsys.readouterr().out
    assert "event recall                        n/a (no ground truth)" in printed
    assert "false uploads                       n/a" in printed
    assert (tmp_path / "real" / "report.html").is_file()


def test_a_baseline_file_replaces_the_estimate(known_run: KnownRun, tmp_path: Path) -> None:
    baseline = Baseline("measured elsewhere", {"capture": 6.0, "cascade_stage3": 300.0})
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(baseline.to_dict()))
    run = load_run(known_run.bag, SCENE, baseline=path)
    assert run.baseline == baseline
    assert summarize(run).baseline_total_j == pytest.approx(306.0)


def test_a_detection_record_counts_and_scores_the_animals_not_the_people_beside_them() -> None:
    from wildcam.msg import Detection, DetectionArray
    from wildcam.report.bag import _Clock, _detection

    msg = DetectionArray(
        event_id=7,
        detections=[
            Detection(id="0", class_id="animal", score=0.4, stage=2, model_id="coarse_int8"),
            Detection(id="1", class_id="person", score=0.9, stage=0, model_id="objects_int8"),
        ],
    )
    record = _detection(2_000_000_000, msg, _Clock([], 10.0, 0))
    assert (record.count, record.best_score, record.stage, record.model_id) == (
        1,
        0.4,
        2,
        "coarse_int8",
    )
    assert record.t_s == 2.0 and record.event_id == 7
