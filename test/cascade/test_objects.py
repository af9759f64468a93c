"""People and vehicles (wildcam.cascade.objects): decoding, relabelling, the stage-3 wrapper,
pixelating people, the manifest's stage 0 and, on real data, the packaged detector."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from wildcam.cascade.base import FakeModel, LabelledBox, RegionResult, ScoredBox
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.loader import last_frame, load_stages, stages_to_reload
from wildcam.cascade.manifest import OBJECTS_STAGE, Manifest, ModelEntry, default_manifest_path
from wildcam.cascade.objects import (
    PeopleVehicles,
    blur_people,
    decode_nanodet,
    load_objects,
    looking_at,
    model_ids,
    relabel,
)
from wildcam.cascade.onnx_models import load_model
from wildcam.cascade.runner import Cascade
from wildcam.errors import ModelError
from wildcam.types import Box, Image

FRAME = np.zeros((100, 200, 3), np.uint8)
WHOLE = Box(0, 0, 200, 100)


def _peak(bins: int, value: int) -> np.ndarray:
    """Logits whose softmax is (almost) all on bin ``value``."""
    out = np.full(bins, -50.0, np.float32)
    out[value] = 50.0
    return out


def test_nanodet_heads_decode_to_boxes_around_grid_points() -> None:
    side, stride, bins = 32, 8, 11
    cells = side // stride
    scores = np.zeros((cells * cells, 3), np.float32)
    dist = np.zeros((cells * cells, 4 * bins), np.float32)
    point = 1 * cells + 2  # row 1, column 2: position (16, 8)
    scores[point, 2] = 0.9
    scores[0, 1] = 0.1  # below min_score: not decoded
    dist[point] = np.concatenate([_peak(bins, k) for k in (1, 0, 2, 3)])
    found = decode_nanodet([(scores, dist)], [stride], side, min_score=0.2)
    assert len(found) == 1
    score, cls, box = found[0]
    assert cls == 2 and score == pytest.approx(0.9)
    assert box == pytest.approx((16 - 8, 8 - 0, 16 + 16, 8 + 24))
    with pytest.raises(ModelError, match="stride 16"):
        decode_nanodet([(scores, dist)], [16], side, 0.2)


def test_animal_boxes_a_person_or_vehicle_covers_are_relabelled() -> None:
    deer = ScoredBox(Box(0, 0, 40, 40), 0.9)
    walker = ScoredBox(Box(100, 10, 30, 80), 0.8)
    faint = ScoredBox(Box(150, 0, 20, 20), 0.1)  # below the animal threshold: decides nothing
    person = LabelledBox(Box(102, 12, 28, 76), 0.7, "person")
    weak_car = LabelledBox(Box(0, 0, 40, 40), 0.3, "vehicle")  # below the object threshold
    faint_car = LabelledBox(Box(150, 0, 20, 20), 0.9, "vehicle")
    animals, others = relabel(
        [deer, walker, faint], [person, weak_car, faint_car], 0.5, 0.5, match_iou=0.3
    )
    assert animals == (deer, faint)
    assert others == (person,)
    far = LabelledBox(Box(160, 60, 30, 30), 0.9, "person")  # overlaps nothing
    assert relabel([walker], [far], 0.5, 0.5) == ((walker,), ())


def test_an_animal_box_around_a_group_of_people_or_vehicles_is_that_group() -> None:
    road = ScoredBox(Box(0, 0, 200, 100), 0.6)  # one "animal" box around a road and its cars
    cars = [LabelledBox(Box(x, 40, 20, 15), 0.8, "vehicle") for x in (20, 90, 150)]
    weak = LabelledBox(Box(60, 70, 20, 15), 0.2, "vehicle")  # below the object threshold
    animals, others = relabel([road], [*cars, weak], 0.5, 0.5)
    assert animals == () and others == tuple(cars)
    rider = LabelledBox(Box(80, 10, 20, 40), 0.9, "person")  # one person on a horse
    horse = ScoredBox(Box(60, 0, 80, 100), 0.9)
    assert relabel([horse], [rider, weak], 0.5, 0.5) == ((horse,), ())


class _Boxes:
    """A stage-3 stand-in answering fixed boxes for every region."""

    def __init__(self, boxes: Sequence[ScoredBox]) -> None:
        self.model_id, self.stage, self.c_low, self.c_high = "large", 3, 0.5, 0.5
        self.boxes = tuple(boxes)

    def predict(self, image: Image, regions: Sequence[Box]) -> list[RegionResult]:
        best = max((b.score for b in self.boxes), default=0.0)
        return [RegionResult(r, best, self.boxes) for r in regions]


def test_the_wrapper_checks_only_frames_with_an_animal_and_the_cascade_follows_it() -> None:
    calls: list[int] = []
    person = LabelledBox(Box(10, 10, 40, 80), 0.8, "person")

    def detect(image: Image) -> list[LabelledBox]:
        calls.append(1)
        return [person]

    quiet = PeopleVehicles(_Boxes([ScoredBox(Box(10, 10, 40, 80), 0.3)]), detect, 0.5)
    assert quiet.predict(FRAME, [WHOLE])[0].others == () and calls == []

    walker = PeopleVehicles(_Boxes([ScoredBox(Box(12, 12, 38, 76), 0.9)]), detect, 0.5)
    assert (walker.model_id, walker.stage, walker.c_high) == ("large", 3, 0.5)
    [result] = walker.predict(FRAME, [WHOLE])
    assert result.score == 0.0 and result.boxes == () and result.others == (person,)
    decision = Cascade({3: walker}).run(FRAME)
    assert not decision.animal and decision.others == (person,)

    both = PeopleVehicles(
        _Boxes([ScoredBox(Box(12, 12, 38, 76), 0.9), ScoredBox(Box(120, 20, 50, 50), 0.7)]),
        detect,
        0.5,
    )
    decision = Cascade({3: both}).run(FRAME, [Box(0, 0, 100, 100), Box(100, 0, 100, 100)])
    assert decision.animal and decision.others == (person,)  # listed once for two regions
    assert [s.box for s, _ in decision.detections()] == [Box(120, 20, 50, 50)]
    assert len(calls) == 3  # once per frame, however many regions


def test_people_near_an_animal_are_listed_to_be_pixelated() -> None:
    person = LabelledBox(Box(10, 10, 40, 80), 0.8, "person")
    weak = LabelledBox(Box(60, 10, 40, 80), 0.3, "person")  # below the object threshold
    deer = ScoredBox(Box(120, 20, 50, 50), 0.9)
    near = PeopleVehicles(_Boxes([deer]), lambda image: [person, weak], 0.5)
    [result] = near.predict(FRAME, [WHOLE])
    assert (result.score, result.boxes, result.others) == (0.9, (deer,), (person,))
    [elsewhere] = near.predict(FRAME, [Box(100, 0, 100, 100)])
    assert elsewhere.others == ()  # not in the region


def test_the_detector_looks_at_a_regions_area_and_answers_in_frame_pixels() -> None:
    crops: list[tuple[int, ...]] = []

    def detect(image: Image) -> list[LabelledBox]:
        crops.append(image.shape[:2])
        return [LabelledBox(Box(5, 5, 10, 10), 0.9, "person")]

    look = looking_at(detect, 0.0)
    # 20 px region: the area grows to half the frame's longer side (MAX_ZOOM 2), in the frame
    assert look(FRAME, Box(100, 20, 20, 20)) == [LabelledBox(Box(65, 5, 10, 10), 0.9, "person")]
    assert look(FRAME, WHOLE) == [LabelledBox(Box(5, 5, 10, 10), 0.9, "person")]
    assert crops == [(100, 100), (100, 200)]


def test_a_small_animal_box_the_frame_check_misses_is_looked_at_closer() -> None:
    # FRAME is 200 px wide: a 416 px detector sees it at 2.08x, so COCO's small objects
    # (32 x 32 input px) are boxes of under about 237 frame px
    far = Box(20, 20, 10, 20)  # 200 px: small; a walker the whole frame hides
    near = Box(100, 10, 60, 60)  # 3600 px: large enough for the whole-frame check
    walker = LabelledBox(Box(19, 21, 11, 19), 0.9, "person")
    frame_said = LabelledBox(Box(19, 20, 12, 20), 0.4, "person")  # the same, weaker
    asked: list[Box] = []

    def look(image: Image, region: Box) -> list[LabelledBox]:
        asked.append(region)
        return [walker] if region == far else []

    boxes = _Boxes([ScoredBox(far, 0.9), ScoredBox(near, 0.8)])
    check = PeopleVehicles(boxes, lambda image: [frame_said], 0.5, look=look, detector_side=416)
    [result] = check.predict(FRAME, [WHOLE])
    assert asked == [far]  # only the small box is looked at again
    assert result.boxes == (ScoredBox(near, 0.8),) and result.score == 0.8
    assert result.others == (walker,)  # seen twice, listed once with its better score
    # a small box the whole frame's check already matched is not looked at again
    strong = LabelledBox(Box(19, 21, 11, 19), 0.7, "person")
    PeopleVehicles(boxes, lambda image: [strong], 0.5, look=look, detector_side=416).predict(
        FRAME, [WHOLE]
    )
    assert asked == [far]
    # without the detector's input side (or a look), nothing is looked at closer
    [plain] = PeopleVehicles(boxes, lambda image: [], 0.5, look=look).predict(FRAME, [WHOLE])
    assert asked == [far] and plain.score == 0.9 and plain.others == ()


class _Sure:
    """A stage-1 classifier stand-in (no boxes), sure of an animal everywhere."""

    model_id, stage, c_low, c_high = "tiny", 1, 0.2, 0.8

    def predict(self, image: Image, regions: Sequence[Box]) -> list[RegionResult]:
        return [RegionResult(r, 0.95) for r in regions]


def test_a_students_animal_gets_the_check_the_detector_stages_carry() -> None:
    person = LabelledBox(Box(48, 18, 34, 64), 0.8, "person")
    asked: list[Box] = []

    def look(image: Image, region: Box) -> list[LabelledBox]:
        asked.append(region)
        return [person]

    large = PeopleVehicles(_Boxes([]), lambda image: [], 0.5, look=look)
    sure = FakeModel("tiny", 1, lambda image, region: 0.95, c_low=0.2, c_high=0.8)
    walker, deer = (
        Cascade({1: sure, 3: large})
        .run(FRAME, [Box(50, 20, 30, 60), Box(120, 10, 40, 40)])
        .regions
    )
    assert not walker.animal and walker.stage == 1 and walker.others == (person,)
    assert walker.score == 0.0 and walker.boxes == ()
    assert deer.animal and deer.stage == 1 and deer.others == ()  # the person is elsewhere
    assert asked == [Box(50, 20, 30, 60), Box(120, 10, 40, 40)]
    # a classifier's whole frame (a still) locates nothing: it stays an animal, people listed
    crowd = LabelledBox(Box(0, 0, 180, 100), 0.8, "person")
    seen = PeopleVehicles(_Boxes([]), lambda image: [], 0.5, look=lambda image, region: [crowd])
    [still] = Cascade({1: _Sure(), 3: seen}).run(FRAME).regions
    assert still.animal and still.others == (crowd,)
    [moving] = Cascade({1: _Sure(), 3: seen}).run(FRAME, [Box(0, 0, 150, 100)]).regions
    assert not moving.animal and moving.others == (crowd,)  # a motion region is its box
    # capped at stage 1, an unsure region that the decision threshold calls an animal too
    unsure = FakeModel("tiny", 1, lambda image, region: 0.6, c_low=0.2, c_high=0.8)
    capped = Cascade({1: unsure, 3: large}, CascadeConfig(max_stage=1, decision_threshold=0.5))
    [region] = capped.run(FRAME, [Box(50, 20, 30, 60)]).regions
    assert not region.animal and region.others == (person,)  # 0 is confidently background
    # no detector stage with the check: the student's animal stands, nothing is looked at
    assert Cascade({1: sure, 3: _Boxes([])}).run(FRAME, [Box(50, 20, 30, 60)]).animal
    assert len(asked) == 3


def test_people_are_pixelated_and_nothing_else_changes() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), np.uint8)
    person = LabelledBox(Box(32, 16, 64, 64), 0.9, "person")
    car = LabelledBox(Box(100, 60, 40, 40), 0.9, "vehicle")
    out = blur_people(image, [person, car])
    inside = out[16:80, 32:96]
    assert not np.array_equal(inside, image[16:80, 32:96])
    assert len(np.unique(inside[:16, :16].reshape(-1, 3), axis=0)) == 1  # one 16 px block
    mask = np.ones(image.shape[:2], bool)
    mask[16:80, 32:96] = False
    assert np.array_equal(out[mask], image[mask])  # the vehicle and the rest untouched
    assert blur_people(image, [car]) is image


def _objects_record(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": "objects_fp32",
        "file": "objects_fp32.onnx",
        "sha256": "0" * 64,
        "stage": OBJECTS_STAGE,
        "kind": "detector",
        "input": {"name": "input_1", "shape": [1, 3, 416, 416], "resize": "letterbox"},
        "outputs": [{"name": "Identity", "shape": [1, 2704, 80]}],
        "decoding": "nanodet",
        "classes": ["person"],
        "c_low": 0.4,
        "c_high": 0.4,
        "heads": [["Identity", "Identity_3"]],
    }
    record.update(changes)
    return record


def test_stage_zero_is_the_nanodet_detector_and_no_stage_model() -> None:
    entry = ModelEntry.from_dict(_objects_record())
    assert entry.stage == OBJECTS_STAGE and entry.info["heads"] == [["Identity", "Identity_3"]]
    with pytest.raises(ModelError, match="nanodet"):
        ModelEntry.from_dict(_objects_record(decoding="yolox"))
    with pytest.raises(ModelError, match="nanodet"):
        ModelEntry.from_dict(_objects_record(stage=3))
    with pytest.raises(ModelError, match="not a stage model"):
        load_model(entry, Path("."))


def _package_manifest() -> Manifest:
    manifest = Manifest.load(default_manifest_path())
    if OBJECTS_STAGE not in manifest.defaults:
        pytest.skip("the package's manifest has no people-and-vehicles detector (make models)")
    return manifest


def test_the_loader_wraps_every_detector_stage_unless_turned_off() -> None:
    manifest = _package_manifest()
    detectors = {s for s in (1, 2, 3) if manifest.default_for(s).decoding == "yolox"}
    assert 3 in detectors
    on = load_stages(CascadeConfig())
    assert {s for s, m in on.items() if isinstance(m, PeopleVehicles)} == detectors
    checks = [m for m in on.values() if isinstance(m, PeopleVehicles)]
    assert len({id(m.detector) for m in checks}) == 1  # one stage-0 detector for them all
    assert all(m.look is not None for m in checks)  # which looks at the students' regions too
    eager = load_stages(CascadeConfig(stage3_lazy=False), {3})[3]
    assert isinstance(eager, PeopleVehicles) and eager.detector_id == checks[0].detector_id
    off = load_stages(CascadeConfig(people_vehicles=False))
    assert all(m is not None and not isinstance(m, PeopleVehicles) for m in off.values())
    assert stages_to_reload(CascadeConfig(), CascadeConfig(people_vehicles=False)) == {1, 2, 3}


def test_the_packaged_detector_finds_the_cars_of_a_real_highway_clip(shared_data: Path) -> None:
    manifest = _package_manifest()
    detector = load_objects(manifest.default_for(OBJECTS_STAGE), manifest.directory)
    cap = cv2.VideoCapture(str(shared_data / "videos" / "bgslibrary" / "video02.avi"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 300)
    ok, frame = cap.read()
    cap.release()
    assert ok
    found = detector.detect(frame)
    assert found and all(o.label in ("person", "vehicle") for o in found)
    assert max(o.score for o in found if o.label == "vehicle") >= 0.4
    h, w = frame.shape[:2]
    assert all(o.box.x >= 0 and o.box.x + o.box.w <= w and o.box.y + o.box.h <= h for o in found)
    empty = np.full((480, 640, 3), 90, np.uint8)  # a grey wall: nobody there
    assert detector.detect(empty) == []


def test_model_ids_name_the_check_after_the_stages() -> None:
    large = _Boxes([])
    tiny = _Boxes([])
    tiny.model_id, tiny.stage = "tiny", 1
    checked = PeopleVehicles(large, lambda image: [], 0.5, detector_id="objects_int8")
    assert model_ids({3: checked, 1: tiny}) == ["tiny", "large", "objects_int8"]
    look = _Boxes([])
    look.model_id, look.stage = "coarse", 2
    coarse = PeopleVehicles(look, lambda image: [], 0.5, detector_id="objects_int8")
    assert model_ids({3: checked, 2: coarse, 1: tiny}) == [
        "tiny",
        "coarse",
        "large",
        "objects_int8",
    ]
    assert model_ids({3: large, 1: tiny}) == ["tiny", "large"]


def test_one_frame_is_checked_once_however_many_stages_ask() -> None:
    calls: list[int] = []

    def detect(image: Image) -> list[LabelledBox]:
        calls.append(1)
        return [LabelledBox(Box(1, 1, 4, 4), 0.9, "person")]

    once = last_frame(detect)
    frame = np.full((48, 64, 3), 90, np.uint8)
    first = once(frame)
    first.clear()  # a caller's change to the list does not reach the memory
    assert once(frame.copy()) == [LabelledBox(Box(1, 1, 4, 4), 0.9, "person")]
    assert len(calls) == 1
    frame[::4, ::4] = 200  # the next frame, written into the same buffer
    once(frame)
    once(np.full((48, 65, 3), 90, np.uint8))  # another shape
    assert len(calls) == 3
