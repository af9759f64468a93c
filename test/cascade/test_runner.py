"""Cascade logic with fake models: bands, escalation, the max_stage cap, smoothing, metering."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest

from wildcam.cascade.base import FakeModel, RegionResult, ScoredBox
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.runner import Cascade, EventSmoother, StageLatency
from wildcam.cascade.views import thumbnail
from wildcam.errors import ConfigError, ModelError
from wildcam.types import Box

FRAME = np.zeros((480, 640, 3), np.uint8)
LEFT, RIGHT = Box(10, 10, 100, 100), Box(400, 200, 120, 120)


def fixed(score: float, stage: int, band: tuple[float, float] = (0.2, 0.8)) -> FakeModel:
    return FakeModel(f"fake{stage}", stage, lambda _img, _box: score, *band)


def by_region(scores: dict[Box, float], stage: int) -> FakeModel:
    return FakeModel(f"fake{stage}", stage, lambda _img, box: scores[box])


def three(s1: float, s2: float, s3: float, **config: object) -> tuple[Cascade, list[FakeModel]]:
    models = [fixed(s1, 1), fixed(s2, 2), fixed(s3, 3)]
    cascade = Cascade({m.stage: m for m in models}, CascadeConfig(**config))  # type: ignore[arg-type]
    return cascade, models


@pytest.mark.parametrize(("s1", "animal"), [(0.1, False), (0.9, True), (0.8, True)])
def test_confident_stage1_decides_alone(s1: float, animal: bool) -> None:
    cascade, models = three(s1, 0.5, 0.5)
    decision = cascade.run(FRAME, [LEFT])
    assert decision.animal is animal
    assert decision.regions[0].stage == 1 and decision.stages_run == {1}
    assert [m.calls for m in models] == [1, 0, 0]


def test_unsure_escalates_until_confident() -> None:
    cascade, models = three(0.5, 0.5, 0.95)
    region = cascade.run(FRAME, [LEFT]).regions[0]
    assert region.animal and region.stage == 3 and region.model_id == "fake3"
    assert dict(region.path) == {1: 0.5, 2: 0.5, 3: 0.95}
    assert [m.calls for m in models] == [1, 1, 1]

    cascade, models = three(0.5, 0.05, 0.95)
    region = cascade.run(FRAME, [LEFT]).regions[0]
    assert not region.animal and region.stage == 2 and models[2].calls == 0


class _Coarse:
    """A stage-2 detector sure of one box of ``side`` pixels at 0.9, sure only from 16 px."""

    model_id, stage, c_low, c_high = "coarse", 2, 0.2, 0.8

    def __init__(self, side: int) -> None:
        self.side = side

    def predict(self, image: np.ndarray, regions: list[Box]) -> list[RegionResult]:
        box = ScoredBox(Box(5, 5, self.side, self.side), 0.9)
        return [RegionResult(r, 0.9, (box,), sure_side=16.0) for r in regions]


@pytest.mark.parametrize(("side", "stage"), [(40, 2), (16, 2), (10, 3)])
def test_a_detector_is_sure_only_of_a_box_large_enough(side: int, stage: int) -> None:
    models = {1: fixed(0.5, 1), 2: _Coarse(side), 3: fixed(0.95, 3)}
    region = Cascade(models, CascadeConfig()).run(FRAME, [LEFT]).regions[0]  # type: ignore[arg-type]
    assert region.animal and region.stage == stage  # a small object goes on to stage 3
    assert RegionResult(LEFT, 0.9).sure_of(0.8)  # a classifier has no boxes: always sure


def test_band_edges() -> None:
    # c_low is unsure (escalates), c_high is a confident animal.
    cascade, _models = three(0.2, 0.1, 0.5)
    assert cascade.run(FRAME, [LEFT]).regions[0].stage == 2
    cascade, _models = three(0.19999, 0.9, 0.9)
    assert cascade.run(FRAME, [LEFT]).regions[0].stage == 1


def test_only_unsure_regions_escalate() -> None:
    stage1 = by_region({LEFT: 0.95, RIGHT: 0.5}, 1)
    stage2 = by_region({RIGHT: 0.05}, 2)
    cascade = Cascade({1: stage1, 2: stage2})
    decision = cascade.run(FRAME, [LEFT, RIGHT])
    assert [r.animal for r in decision.regions] == [True, False]
    assert [r.stage for r in decision.regions] == [1, 2]
    assert stage2.calls == 1  # the confident region never reached stage 2


@pytest.mark.parametrize(
    ("max_stage", "s_last", "threshold", "animal"),
    [(1, 0.55, 0.5, True), (1, 0.45, 0.5, False), (2, 0.7, 0.75, False), (2, 0.7, 0.6, True)],
)
def test_max_stage_caps_and_threshold_decides(
    max_stage: int, s_last: float, threshold: float, animal: bool
) -> None:
    cascade, models = three(
        s_last, s_last, 0.99, max_stage=max_stage, decision_threshold=threshold
    )
    region = cascade.run(FRAME, [LEFT]).regions[0]
    assert region.stage == max_stage and region.capped and region.animal is animal
    assert all(m.calls == 0 for m in models[max_stage:])


def test_cap_changes_live() -> None:
    cascade, models = three(0.5, 0.5, 0.99)
    assert cascade.run(FRAME, [LEFT]).regions[0].stage == 3
    cascade.configure(CascadeConfig(max_stage=1))
    assert cascade.run(FRAME, [LEFT]).highest_stage == 1
    assert [m.calls for m in models] == [2, 1, 1]


def test_disabled_stage_is_skipped() -> None:
    cascade, models = three(0.5, 0.5, 0.99)
    cascade.set_model(2, None)
    region = cascade.run(FRAME, [LEFT]).regions[0]
    assert region.stage == 3 and dict(region.path) == {1: 0.5, 3: 0.99}
    assert models[1].calls == 0


def test_no_enabled_stage_is_a_config_error() -> None:
    cascade = Cascade({3: fixed(0.9, 3)}, CascadeConfig(max_stage=2))
    with pytest.raises(ConfigError, match="no stage"):
        cascade.run(FRAME, [LEFT])


def test_model_stage_and_band_checked() -> None:
    with pytest.raises(ModelError, match="stage 2 model"):
        Cascade({1: fixed(0.5, 2)})
    bad = fixed(0.5, 1)
    bad.c_low = 0.9
    with pytest.raises(ConfigError, match="c_low"):
        Cascade({1: bad})


def test_no_rois_means_whole_frame_and_rois_are_clipped() -> None:
    seen: list[Box] = []
    model = FakeModel("t", 1, lambda _img, box: seen.append(box) or 0.9)
    cascade = Cascade({1: model})
    cascade.run(FRAME, [])
    cascade.run(FRAME, [Box(600, 400, 100, 100), Box(700, 500, 10, 10)])
    assert seen == [Box(0, 0, 640, 480), Box(600, 400, 40, 80)]


class FrameDetector:
    """A stage-3 fake that finds one box in the full frame."""

    model_id, stage, c_low, c_high = "det", 3, 0.3, 0.6

    def __init__(self, boxes: tuple[ScoredBox, ...]) -> None:
        self.boxes, self.regions_seen = boxes, []  # type: list[Box]

    def predict(self, image: np.ndarray, regions: list[Box]) -> list[RegionResult]:
        self.regions_seen += regions
        return [
            RegionResult(r, max((b.score for b in self.boxes), default=0.0), self.boxes)
            for r in regions
        ]


def test_stage3_on_full_frame_matches_boxes_to_regions() -> None:
    animal = ScoredBox(Box(420, 220, 50, 50), 0.9)
    detector = FrameDetector((animal,))
    cascade = Cascade({1: fixed(0.5, 1), 3: detector})  # type: ignore[dict-item]
    decision = cascade.run(FRAME, [LEFT, RIGHT])
    assert detector.regions_seen == [Box(0, 0, 640, 480)]  # one call for both regions
    assert [r.animal for r in decision.regions] == [False, True]
    assert decision.regions[1].boxes == (animal,)
    assert decision.detections() == [(animal, decision.regions[1])]

    region_mode = Cascade(
        {1: fixed(0.5, 1), 3: FrameDetector((animal,))},  # type: ignore[dict-item]
        CascadeConfig(stage3_input="region"),
    )
    region_mode.run(FRAME, [LEFT, RIGHT])
    assert region_mode.models[3].regions_seen == [LEFT, RIGHT]  # type: ignore[attr-defined]


def test_detections_deduplicate_full_frame_boxes() -> None:
    animal = ScoredBox(Box(50, 50, 400, 300), 0.9)
    cascade = Cascade({1: fixed(0.5, 1), 3: FrameDetector((animal,))})  # type: ignore[dict-item]
    decision = cascade.run(FRAME, [LEFT, RIGHT])
    assert all(r.animal for r in decision.regions)
    assert [d[0] for d in decision.detections()] == [animal]


def test_model_answering_wrong_count_is_a_model_error() -> None:
    class Broken(FakeModel):
        def predict(self, image, regions):  # type: ignore[no-untyped-def]
            return []

    cascade = Cascade({1: Broken("b", 1, lambda _i, _b: 0.0)})
    with pytest.raises(ModelError, match="0 results for 1"):
        cascade.run(FRAME, [LEFT])


def test_measure_hook_sees_each_stage_called() -> None:
    names: list[str] = []

    @contextlib.contextmanager
    def measure(name: str) -> Iterator[None]:
        names.append(name)
        yield

    cascade = Cascade({1: fixed(0.5, 1), 2: fixed(0.5, 2), 3: fixed(0.05, 3)}, measure=measure)
    cascade.run(FRAME, [LEFT, RIGHT])
    assert names == ["cascade_stage1", "cascade_stage2", "cascade_stage3"]


def test_smoother_needs_two_agreeing_frames_by_default() -> None:
    smoother = EventSmoother(alpha=0.4, threshold=0.5)
    assert not any(smoother.update(1, p).animal for p in (0, 1, 0, 0))  # a lone positive
    assert [smoother.update(2, 1).animal for _ in range(2)] == [False, True]
    final = smoother.end(2)
    assert final is not None and final.frames == 2 and final.animal_frames == 2
    assert smoother.end(2) is None


def test_smoother_alpha_one_is_no_smoothing_and_events_are_bounded() -> None:
    smoother = EventSmoother(alpha=1.0, threshold=0.5, max_events=3)
    assert smoother.update(1, 1).animal
    for event in range(2, 6):
        smoother.update(event, 0)
    assert smoother.open_events == 3 and smoother.end(1) is None


def test_process_publishes_once_the_event_is_an_animal() -> None:
    score = {"s": 0.9}
    cascade = Cascade({1: FakeModel("t", 1, lambda _i, _b: score["s"])})
    outcomes = [cascade.process(FRAME, [LEFT], event_id=7) for _ in range(3)]
    assert [o.publish for o in outcomes] == [False, True, True]
    score["s"] = 0.05
    last = cascade.process(FRAME, [LEFT], event_id=7, event_ended=True)
    assert not last.publish and last.ended is not None and last.ended.animal
    assert last.ended.frames == 4 and last.ended.animal_frames == 3
    # no event: the frame decides alone
    score["s"] = 0.9
    assert cascade.process(FRAME, [LEFT]).publish


def test_band_overrides_change_who_decides() -> None:
    cascade, _models = three(0.5, 0.5, 0.99)
    assert cascade.run(FRAME, [LEFT]).regions[0].stage == 3
    cascade.configure(CascadeConfig(stage1_c_high=0.45))  # 0.5 now a confident animal
    region = cascade.run(FRAME, [LEFT]).regions[0]
    assert region.stage == 1 and region.animal
    cascade.configure(CascadeConfig(stage1_c_low=0.6))  # c_high raised to c_low: 0.5 < 0.6
    region = cascade.run(FRAME, [LEFT]).regions[0]
    assert region.stage == 1 and not region.animal
    assert CascadeConfig(stage2_c_low=0.3).band(2, 0.1, 0.9) == (0.3, 0.9)
    assert CascadeConfig().band(3, 0.25, 0.25) == (0.25, 0.25)


def test_a_student_night_band_applies_on_grey_frames_only() -> None:
    student = FakeModel("tiny", 1, lambda _img, _box: 0.5, 0.2, 0.8, c_high_night=0.4)
    large = fixed(0.1, 3)
    cascade = Cascade({1: student, 3: large})
    grey = cascade.run(FRAME, [LEFT]).regions[0]  # an all-black frame is grey (IR)
    assert grey.animal and grey.stage == 1 and large.calls == 0
    colour = FRAME.copy()
    colour[..., 2] = 200
    colour[:, 320:, 0] = 200  # a red half and a magenta one: a day frame's colours vary
    day = cascade.run(colour, [LEFT]).regions[0]
    assert not day.animal and day.stage == 3 and large.calls == 1
    # a configured c_high still overrides the manifest's, day and night
    cascade.configure(CascadeConfig(stage1_c_high=0.9))
    assert cascade.run(FRAME, [LEFT]).regions[0].stage == 3


def test_the_thumbnail_is_the_box_shrunk_to_its_side_and_latency_a_running_mean() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    image[100:300, 200:600] = 200
    crop = thumbnail(image, Box(200, 100, 400, 200), side=256)
    assert crop.shape == (128, 256, 3) and int(crop.min()) == 200
    assert thumbnail(image, Box(0, 0, 64, 32), side=256).shape == (32, 64, 3)  # small: as is
    assert thumbnail(image, side=320).shape == (240, 320, 3)
    latency = StageLatency()
    assert latency.add("stage1", 0.002) == pytest.approx(2.0)
    assert latency.add("stage1", 0.004) == pytest.approx(3.0)
    assert latency.add("stage2", 0.010) == pytest.approx(10.0)
