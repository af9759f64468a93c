"""The ONNX backends on real frames: boxes in frame pixels, fp32 and int8 agree on presence."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from wildcam.cascade.base import STAGES, StageModel
from wildcam.cascade.manifest import Manifest
from wildcam.cascade.onnx_models import crop_square, letterbox, load_model
from wildcam.types import Box

MANIFEST = Path(__file__).resolve().parents[2] / "models" / "manifest.json"
ENA24 = ("2480.jpg", "2573.jpg", "3084.jpg", "8831.jpg")


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return Manifest.load(MANIFEST)


@pytest.fixture(scope="module")
def models(manifest: Manifest) -> dict[str, StageModel]:
    return {
        mid: load_model(e, manifest.directory)
        for mid, e in manifest.entries.items()
        if e.stage in STAGES
    }


@pytest.fixture
def ena24(shared_data: Path, models: dict) -> list[tuple[np.ndarray, Box]]:
    """ENA24 frames (an animal in each) and the large model's best box on the whole frame.

    (The boxes shipped with ENA24 are placeholders, so the detector's own box is the reference.)
    """
    out = []
    for name in ENA24:
        image = cv2.imread(str(shared_data / "camera_traps" / "ena24" / name))
        h, w = image.shape[:2]
        (whole,) = models["large_fp32"].predict(image, [Box(0, 0, w, h)])
        assert whole.score >= models["large_fp32"].c_high and whole.boxes
        box = whole.boxes[0].box
        assert 0 < box.area < w * h / 2
        out.append((image, box))
    return out


def _empty_frames(root: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(root / "videos" / "bgslibrary" / "video03.avi"))
    frames = []
    for _ in range(3):
        for _ in range(100):
            ok, frame = cap.read()
        assert ok
        frames.append(frame)
    cap.release()
    return frames


def test_preprocessing_pads_outside_the_frame_and_keeps_aspect() -> None:
    image = np.full((100, 200, 3), 200, np.uint8)
    crop, square = crop_square(image, Box(180, 40, 40, 20), 32, context=0.0)
    assert square == Box(180, 30, 40, 40)
    assert crop.shape == (32, 32, 3)
    assert crop[:, :14].mean() > 190 and crop[:, 18:].max() == 0  # right half is outside
    boxed, ratio = letterbox(image, 64)
    assert ratio == pytest.approx(0.32)
    assert boxed[:32].min() == 200 and boxed[33:].max() == 0
    # a small image is enlarged no more than max_upscale: it fills the top-left of the input
    small = np.full((20, 30, 3), 200, np.uint8)
    assert letterbox(small, 64)[1] == pytest.approx(64 / 30)
    boxed, ratio = letterbox(small, 64, max_upscale=1.5)
    assert ratio == 1.5
    assert boxed[:30, :45].min() == 200 and boxed[30:].max() == 0 and boxed[:, 45:].max() == 0
    assert letterbox(image, 64, max_upscale=1.5)[1] == pytest.approx(0.32)  # shrinking: as is


def test_detector_boxes_are_in_frame_pixels_for_regions_too(ena24: list, models: dict) -> None:
    for mid in ("large_fp32", "large_int8"):
        large = models[mid]
        for image, animal in ena24:
            h, w = image.shape[:2]
            (whole,) = large.predict(image, [Box(0, 0, w, h)])
            assert whole.score >= large.c_high and whole.boxes[0].box.iou(animal) > 0.7
            # a region around the animal: its boxes come back in full-frame pixels too
            region = Box(
                animal.x - animal.w // 2, animal.y - animal.h // 2, 2 * animal.w, 2 * animal.h
            ).clipped(w, h)
            (part,) = large.predict(image, [region])
            assert part.region == region
            assert part.boxes and part.boxes[0].box.iou(animal) > 0.5, mid
            # the frame shrunk to 160 px wide (enlarged at most max_upscale): in its pixels too
            f = 160 / w
            small = cv2.resize(image, (160, round(h * f)), interpolation=cv2.INTER_AREA)
            (shrunk,) = large.predict(small, [Box(0, 0, 160, small.shape[0])])
            scaled = Box(*(round(v * f) for v in animal))
            assert shrunk.boxes and shrunk.boxes[0].box.iou(scaled) > 0.5, mid


def test_students_score_animal_regions_above_empty_ones(ena24: list, models: dict) -> None:
    frames = ena24
    for mid in ("tiny_int8", "medium_int8"):
        model = models[mid]
        for image, truth in frames:
            h, w = image.shape[:2]
            corner = (
                Box(0, 0, truth.w, truth.h)
                if truth.x > w // 2
                else Box(w - truth.w, 0, truth.w, truth.h)
            )
            animal, empty = model.predict(image, [truth, corner])
            assert (animal.region, empty.region) == (truth, corner)
            assert animal.score > empty.score, mid
        assert model.predict(frames[0][0], []) == []
    (animal,) = models["medium_int8"].predict(frames[0][0], [frames[0][1]])
    assert animal.boxes[0].box.iou(frames[0][1]) > 0.3


def test_fp32_and_int8_agree_on_presence_on_real_frames(
    shared_data: Path, ena24: list, models: dict
) -> None:
    images = [(im, Box(0, 0, im.shape[1], im.shape[0])) for im, _ in ena24]
    images += [(im, Box(0, 0, im.shape[1], im.shape[0])) for im in _empty_frames(shared_data)]
    animal_regions = list(ena24)
    for name in ("large", "medium", "tiny"):
        fp32, int8 = models[f"{name}_fp32"], models[f"{name}_int8"]
        cases = images if name == "large" else animal_regions + images
        threshold = fp32.c_low if name == "large" else 0.5
        agree = []
        for image, region in cases:
            (a,) = fp32.predict(image, [region])
            (b,) = int8.predict(image, [region])
            agree.append((a.score >= threshold) == (b.score >= threshold))
            assert abs(a.score - b.score) < 0.25, (name, a.score, b.score)
        assert np.mean(agree) >= 0.85, (name, agree)
