"""Scores that say what they measure: recall "n/a" without visits, per-visit coverage and time
to first detection, in the summary and summary.json."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from report_helpers import DETECTION_FRAMES, FPS, MOTION, SCENE, KnownRun  # type: ignore[import-not-found]

from wildcam.report import RunData, build_report, load_run, summarize
from wildcam.report.data import TruthVisit
from wildcam.report.metrics import visit_scores


@pytest.fixture(scope="module")
def run(known_run: KnownRun) -> RunData:
    return load_run(known_run.bag, SCENE, gateway=known_run.gateway)


def test_coverage_is_the_share_of_the_visit_inside_motion_events() -> None:
    visits = [
        TruthVisit(10.0, 20.0, "deer"),
        TruthVisit(30.0, 34.0, "fox"),
        TruthVisit(50.0, 52.0, "bird"),
    ]
    spans = [(8.0, 12.0), (11.0, 15.0), (18.0, 25.0), (33.0, 40.0)]  # overlaps count once
    scores = visit_scores(visits, spans, times=[9.5, 14.0, 35.0], slack_s=1.0)
    assert [s.coverage for s in scores] == [pytest.approx(0.7), pytest.approx(0.25), 0.0]
    assert [s.first_detection_s for s in scores] == [0.0, pytest.approx(5.0), None]


def test_known_run_visits_and_rows(run: RunData) -> None:
    summary = summarize(run)
    first = summary.visit_scores[0]  # deer 5-9 s; motion frames 52-85 = 5.2-8.5 s
    a, b = MOTION[1]
    assert first.coverage == pytest.approx((b - a) / FPS / 4.0)
    assert first.first_detection_s == pytest.approx(min(DETECTION_FRAMES) / FPS - 5.0)
    assert summary.visit_scores[2].first_detection_s is None  # the bird was never detected
    rows = dict(summary.rows())
    assert rows["visit coverage by motion events"].startswith("median ")
    assert "1 visit never detected" in rows["time to first detection"]


def test_recall_is_not_applicable_without_visits(run: RunData) -> None:
    empty = summarize(dataclasses.replace(run, visits=()))
    assert empty.event_recall is None
    assert dict(empty.rows())["event recall"] == "n/a (no animal visits in the ground truth)"
    assert "visit coverage by motion events" not in dict(empty.rows())
    no_truth = summarize(dataclasses.replace(run, visits=(), has_truth=False))
    assert dict(no_truth.rows())["event recall"] == "n/a (no ground truth)"


def test_summary_json_holds_the_same_scores(run: RunData, tmp_path: Path) -> None:
    page = build_report(run, tmp_path)
    data = json.loads((page.parent / "summary.json").read_text())
    summary = summarize(run)
    assert data["event_recall"] == pytest.approx(summary.event_recall)
    assert [v["coverage"] for v in data["visit_scores"]] == [
        pytest.approx(v.coverage) for v in summary.visit_scores
    ]
    assert data["visit_scores"][2]["first_detection_s"] is None
