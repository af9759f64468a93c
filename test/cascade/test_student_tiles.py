"""Students on tiles (``student_tiles``): the grid, when it applies, the decision rule, the
evaluation, the manifest record and the calibration's choice, with fake models (no ROS)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from wildcam.cascade.base import FakeModel, RegionResult, ScoredBox
from wildcam.cascade.calibrate import frame_boxes, pick_layout
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.evaluate import LabelledImage, evaluate
from wildcam.cascade.manifest import Manifest, default_manifest_path
from wildcam.cascade.realdata import RealItem
from wildcam.cascade.runner import Cascade
from wildcam.cascade.views import TileBand, grid_tiles, tile_label, tiles_of
from wildcam.errors import ModelError
from wildcam.types import Box, Image

FRAME = np.zeros((400, 600, 3), np.uint8)
BAND = TileBand(3, 2, 0.3, 0.7, 96)
"""3 x 2 tiles of 240 x 240 on FRAME: large enough for a 96 px student."""


def test_a_grid_covers_the_region_edge_to_edge_with_overlap() -> None:
    tiles = grid_tiles(Box(0, 0, 300, 200), 3, 2)
    assert [(t.x, t.y) for t in tiles] == [(0, 0), (90, 0), (180, 0), (0, 80), (90, 80), (180, 80)]
    assert {(t.w, t.h) for t in tiles} == {(120, 120)}  # a third / half, plus 20 %
    assert grid_tiles(Box(10, 20, 300, 200), 2, 2) == tiles_of(Box(10, 20, 300, 200))
    assert grid_tiles(Box(0, 0, 50, 40), 1, 1) == [Box(0, 0, 50, 40)]


def test_the_grid_applies_to_large_whole_frames_only() -> None:
    assert BAND.applies(Box(0, 0, 600, 400), 600, 400)
    assert not BAND.applies(Box(0, 0, 300, 400), 600, 400)  # a motion region
    assert BAND.applies(Box(0, 0, 300, 200), 300, 200)  # tiles of 120 px
    assert not BAND.applies(Box(0, 0, 210, 160), 210, 160)  # tiles of 84 x 96 px
    assert TileBand(3, 2, 0.3, 0.7, 128).applies(Box(0, 0, 320, 240), 320, 240) is True
    assert not TileBand(3, 3, 0.3, 0.7, 128).applies(Box(0, 0, 320, 240), 320, 240)


def _animal_at(x: int, y: int, inside: float, whole: float) -> object:
    """A score: ``inside`` for a tile holding point (x, y), ``whole`` for the whole frame,
    0.1 for other tiles."""

    def score(image: Image, region: Box) -> float:
        if (region.w, region.h) == (image.shape[1], image.shape[0]):
            return whole
        holds = region.x <= x < region.x + region.w and region.y <= y < region.y + region.h
        return inside if holds else 0.1

    return score


def _cascade(score: object, tiles: bool, band: TileBand | None = BAND) -> tuple[Cascade, dict]:
    models = {
        1: FakeModel("tiny", 1, score, 0.2, 0.8, tiles=band),  # type: ignore[arg-type]
        2: FakeModel("medium", 2, score, 0.2, 0.8, tiles=band),  # type: ignore[arg-type]
        3: FakeModel("large", 3, lambda _i, _r: 0.9, 0.5, 0.5),
    }
    return Cascade(models, CascadeConfig(student_tiles=tiles)), models


def test_one_confident_tile_decides_an_animal_without_stage_3() -> None:
    cascade, models = _cascade(_animal_at(550, 350, 0.75, 0.5), tiles=True)
    decision = cascade.run(FRAME)
    assert decision.animal and decision.regions[0].stage == 1
    assert decision.regions[0].score == 0.75  # the best view, above the tile band's c_high
    assert models[1].calls == 7 and models[2].calls == 0 and models[3].calls == 0
    # without tiles the whole frame's 0.5 is unsure at both students: stage 3 decides
    cascade, models = _cascade(_animal_at(550, 350, 0.75, 0.5), tiles=False)
    assert cascade.run(FRAME).regions[0].stage == 3 and models[1].calls == 1


def test_background_only_when_the_frame_and_every_tile_are_confidently_background() -> None:
    # the frame below its own band (0.1 < 0.2), every tile below the tile band (0.25 < 0.3)
    cascade, models = _cascade(_animal_at(10, 10, 0.25, 0.1), tiles=True)
    decision = cascade.run(FRAME)
    assert not decision.animal and decision.regions[0].stage == 1
    # one tile unsure (0.5 in [0.3, 0.7)): escalate through stage 2 to stage 3
    cascade, models = _cascade(_animal_at(10, 10, 0.5, 0.1), tiles=True)
    decision = cascade.run(FRAME)
    assert decision.regions[0].stage == 3 and decision.animal
    assert models[2].calls == 7 and models[3].calls == 1
    # the frame unsure in its own band (0.25 in [0.2, 0.8)) though every tile is low: escalate
    cascade, models = _cascade(_animal_at(10, 10, 0.25, 0.25), tiles=True)
    assert cascade.run(FRAME).regions[0].stage == 3


def test_the_frame_keeps_its_own_and_its_night_band() -> None:
    grey = np.full((400, 600, 3), 90, np.uint8)
    # the frame confident in its band (0.85 >= 0.8), every tile low: an animal at stage 1
    cascade, _ = _cascade(_animal_at(10, 10, 0.1, 0.85), tiles=True)
    assert cascade.run(FRAME).animal and cascade.run(FRAME).regions[0].stage == 1
    # a grey frame at 0.5: confident in the night band (0.4), whatever the tiles say
    night = FakeModel("tiny", 1, _animal_at(10, 10, 0.1, 0.5), 0.2, 0.8, 0.4, BAND)  # type: ignore[arg-type]
    large = FakeModel("large", 3, lambda _i, _r: 0.1, 0.5, 0.5)
    decision = Cascade({1: night, 3: large}, CascadeConfig(student_tiles=True)).run(grey)
    assert decision.animal and decision.regions[0].stage == 1 and large.calls == 0
    colour = np.zeros((400, 600, 3), np.uint8)
    colour[..., 2] = 200
    colour[:, 300:, 0] = 200  # by day (red and magenta halves) the 0.5 is unsure: stage 3 decides
    decision = Cascade({1: night, 3: large}, CascadeConfig(student_tiles=True)).run(colour)
    assert not decision.animal and large.calls == 1


def test_tile_verdicts() -> None:
    assert BAND.verdict(0.5, 0.7, 0.2, 0.8) is True  # a tile at the tile band's c_high
    assert BAND.verdict(0.8, 0.0, 0.2, 0.8) is True  # the frame at its own c_high
    assert BAND.verdict(0.19, 0.29, 0.2, 0.8) is False
    assert BAND.verdict(0.19, 0.3, 0.2, 0.8) is None
    assert BAND.verdict(0.2, 0.1, 0.2, 0.8) is None


def test_tiles_are_labelled_by_the_share_of_a_box_they_hold() -> None:
    animal = Box(100, 100, 40, 40)
    other = Box(500, 10, 20, 20)
    assert tile_label(Box(80, 80, 100, 100), [animal], [other]) is True  # holds all of it
    assert tile_label(Box(120, 100, 100, 100), [animal], [other]) is True  # exactly half
    assert tile_label(Box(125, 100, 100, 100), [animal], [other]) is None  # a part: ambiguous
    assert tile_label(Box(300, 300, 100, 100), [animal], [other]) is False  # touches nothing
    assert tile_label(Box(450, 0, 100, 100), [animal], [other]) is None  # a weaker box
    assert tile_label(Box(0, 0, 50, 50), [], []) is False


def test_motion_regions_small_frames_and_models_without_a_grid_are_not_tiled() -> None:
    cascade, models = _cascade(_animal_at(550, 350, 0.75, 0.5), tiles=True)
    cascade.run(FRAME, [Box(0, 0, 100, 100), Box(500, 300, 100, 100)])
    assert models[1].calls == 2  # each region once
    cascade, models = _cascade(_animal_at(550, 350, 0.75, 0.5), tiles=True)
    cascade.run(np.zeros((120, 160, 3), np.uint8))  # tiles of 64 x 72 px: below 96
    assert models[1].calls == 1
    cascade, models = _cascade(_animal_at(550, 350, 0.75, 0.5), tiles=True, band=None)
    assert cascade.run(FRAME).regions[0].stage == 3 and models[1].calls == 1


def test_the_evaluation_decides_as_the_cascade_does(tmp_path: Path) -> None:
    path = tmp_path / "still.png"
    cv2.imwrite(str(path), FRAME)
    models = _cascade(_animal_at(550, 350, 0.75, 0.5), tiles=True)[1]
    items = [LabelledImage(path, True)]
    on = evaluate(items, models, CascadeConfig(student_tiles=True)).row("cascade")
    off = evaluate(items, models, CascadeConfig(student_tiles=False)).row("cascade")
    assert on.tp == 1 and on.fraction_reaching(3) == 0.0
    assert off.tp == 1 and off.fraction_reaching(3) == 1.0


def test_the_manifest_reads_and_checks_a_tile_record(tmp_path: Path) -> None:
    record = json.loads(default_manifest_path().read_text())
    tiny = next(m for m in record["models"] if m["id"] == "tiny_int8")
    path = tmp_path / "manifest.json"
    tiny["tiles"] = {"layout": [3, 2], "c_low": 0.2, "c_high": 0.9}
    path.write_text(json.dumps(record))
    assert Manifest.load(path).entry("tiny_int8").tiles == TileBand(3, 2, 0.2, 0.9, 96)
    for bad in (
        {"layout": [0, 2], "c_low": 0.2, "c_high": 0.9},
        {"layout": [2, 2], "c_low": 0.9, "c_high": 0.2},
    ):
        tiny["tiles"] = bad
        path.write_text(json.dumps(record))
        with pytest.raises(ModelError):
            Manifest.load(path)


def test_the_layout_keeps_the_recall_first_then_the_fewest_stage_3_calls() -> None:
    base = {"stage3_share": 0.7, "recall": 0.9}
    figures = {
        "2x2": {"stage3_share": 0.5, "recall": 0.9},
        "3x2": {"stage3_share": 0.3, "recall": 0.8},  # fewer calls, but misses animals
        "3x3": {"stage3_share": 0.6, "recall": 0.95},
    }
    assert pick_layout(base, figures) == "2x2"
    worse = {k: {**f, "recall": 0.5 + 0.1 * i} for i, (k, f) in enumerate(figures.items())}
    assert pick_layout(base, worse) == "3x3"  # none keeps it: the highest recall


def test_the_default_follows_the_calibration_verdict() -> None:
    verdict = json.loads(default_manifest_path().read_text()).get("student_tiles")
    if verdict is None:
        pytest.skip("the manifest has no student_tiles verdict (calibrate not run)")
    assert CascadeConfig().student_tiles is verdict["on"]


class _Teacher:
    """A detector that marks the given boxes on any frame."""

    model_id, stage, c_low, c_high = "teacher", 3, 0.25, 0.25

    def __init__(self, *boxes: ScoredBox) -> None:
        self.boxes = boxes

    def predict(self, image: Image, regions: list[Box]) -> list[RegionResult]:
        return [
            RegionResult(r, max((b.score for b in self.boxes), default=0.0), self.boxes)
            for r in regions
        ]


def test_frame_boxes_from_the_truth_else_the_teacher(tmp_path: Path) -> None:
    strong, weak = ScoredBox(Box(10, 10, 50, 50), 0.6), ScoredBox(Box(300, 200, 40, 40), 0.15)
    teacher = _Teacher(strong, weak)

    def item(animal: bool, boxes: tuple[Box, ...] | None = None) -> RealItem:
        return RealItem(LabelledImage(tmp_path / "x.png", animal, boxes), "camera_traps/misc/x")

    assert frame_boxes(item(False), FRAME, teacher, 0.25) == ([], [])  # known empty
    truth = Box(100, 100, 80, 60)
    assert frame_boxes(item(True, (truth,)), FRAME, teacher, 0.25) == (
        [truth],
        [strong.box, weak.box],
    )
    assert frame_boxes(item(True), FRAME, teacher, 0.25) == ([strong.box], [strong.box, weak.box])
    # an animal is known to be there: the teacher's best box is it, even below its threshold
    assert frame_boxes(item(True), FRAME, _Teacher(weak), 0.25) == ([weak.box], [weak.box])
    assert frame_boxes(item(True), FRAME, _Teacher(), 0.25) is None  # cannot be labelled
