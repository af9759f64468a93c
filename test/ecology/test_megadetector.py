"""MegaDetector batch output: the format's rules, ``wildcam detect`` on real images, videos and
a bag, ``wildcam eval --md-json``, and the MegaDetector project's own validator."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from ecology_helpers import cli, md_validate  # type: ignore[import-not-found]

from wildcam.cascade.base import LabelledBox, ScoredBox
from wildcam.cascade.runner import FrameDecision, RegionDecision
from wildcam.ecology.megadetector import (
    MdDetection,
    MdImage,
    batch_output,
    check_batch_output,
    frame_detections,
    normalised_box,
)
from wildcam.types import Box

WILDCAM = [sys.executable, "-m", "wildcam.cli"]


def _doc() -> dict:
    return batch_output(
        [
            MdImage("a/animal.jpg", (MdDetection("animal", 0.91, (0.1, 0.2, 0.3, 0.4)),)),
            MdImage("empty.jpg"),
            MdImage("broken.jpg", failure="Failure image access"),
            MdImage(
                "clip.mp4",
                (
                    MdDetection("animal", 0.7, (0.0, 0.0, 0.5, 0.5), 10),
                    MdDetection("deer", 0.6, (0.5, 0.5, 0.5, 0.5), 20),
                ),
                frame_rate=10.0,
                frames_processed=(0, 10, 20),
            ),
        ],
        "wildcam-cascade[test]",
    )


def test_document_follows_the_format_rules() -> None:
    doc = _doc()
    assert check_batch_output(doc) == []
    assert doc["info"]["format_version"] == "1.4" and float(doc["info"]["format_version"]) >= 1.3
    assert doc["detection_categories"] == {
        "1": "animal",
        "2": "person",
        "3": "vehicle",
        "4": "deer",
    }
    animal, empty, broken, clip = doc["images"]
    assert animal["detections"] == [{"category": "1", "conf": 0.91, "bbox": [0.1, 0.2, 0.3, 0.4]}]
    assert empty["detections"] == [] and "failure" not in empty
    assert broken == {"file": "broken.jpg", "failure": "Failure image access", "detections": None}
    assert clip["frame_rate"] == 10.0 and clip["frames_processed"] == [0, 10, 20]
    assert [d["frame_number"] for d in clip["detections"]] == [10, 20]


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda d: d["info"].update(format_version=1.4), "format_version"),
        (lambda d: d["images"][0]["detections"][0].update(category="9"), "category"),
        (lambda d: d["images"][0]["detections"][0].update(conf=1), "conf"),
        (
            lambda d: d["images"][0]["detections"][0].update(bbox=[0.8, 0.2, 0.3, 0.4]),
            "normalised",
        ),
        (lambda d: d["images"][1].update(detections=None), "detections must be a list"),
        (lambda d: d["images"][2].update(detections=[]), "failure"),
        (lambda d: d["images"][3].pop("frame_rate"), "frame_rate"),
        (lambda d: d["images"][3]["detections"][0].pop("frame_number"), "frame_number"),
    ],
)
def test_rule_breaks_are_found(breakage, expected: str) -> None:
    doc = _doc()
    breakage(doc)
    problems = check_batch_output(doc)
    assert problems and any(expected in p for p in problems), problems


def test_normalised_box_clips_to_the_frame() -> None:
    assert normalised_box(Box(-10, 20, 100, 400), 200, 300) == (0.0, 0.0667, 0.45, 0.9333)


def test_real_megadetector_output_passes_our_rules(shared_data: Path) -> None:
    """Our reading of the format accepts what MegaDetector itself wrote for ENA24."""
    doc = json.loads((shared_data / "camera_traps/ena24/md_annotations.json").read_text())
    assert check_batch_output(doc) == []


@pytest.fixture
def mixed_folder(shared_data: Path, tmp_path: Path) -> Path:
    """Real images (ENA24, a WebP), a real video, and a corrupt JPEG, in a nested folder."""
    folder = tmp_path / "input"
    (folder / "ena24").mkdir(parents=True)
    for image in sorted((shared_data / "camera_traps/ena24").glob("*.jpg"))[:4]:
        shutil.copy(image, folder / "ena24" / image.name)
    webp = sorted((shared_data / "camera_traps/misc").glob("*.webp"))
    if webp:
        shutil.copy(webp[0], folder / webp[0].name)
    video = sorted((shared_data / "videos/zamba").glob("*.mp4"))[0]
    shutil.copy(video, folder / video.name)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


def test_detect_on_a_folder_of_real_images_and_a_video(mixed_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "detections.json"
    done = subprocess.run(
        [*WILDCAM, "detect", str(mixed_folder), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert check_batch_output(doc) == []
    files = {i["file"]: i for i in doc["images"]}
    assert files["corrupt.jpg"]["failure"] and files["corrupt.jpg"]["detections"] is None
    ena = [i for f, i in files.items() if f.startswith("ena24/")]
    assert len(ena) == 4 and all(i.get("failure") is None for i in ena)
    # every ENA24 image holds an animal: the cascade finds a confident box on most of them
    assert sum(any(d["conf"] >= 0.5 for d in i["detections"]) for i in ena) >= 3
    video = next(i for f, i in files.items() if f.endswith(".mp4"))
    assert video["frame_rate"] > 0 and video["frames_processed"][0] == 0
    assert all(d["frame_number"] in video["frames_processed"] for d in video["detections"])
    assert "tiny_int8" in doc["info"]["detector"] and "manifest-sha256" in doc["info"]["detector"]
    result = md_validate(out, mixed_folder)
    assert result["errors"] == [], result


def test_detect_on_a_bag(tmp_path: Path) -> None:
    from wildcam.bags.generate import generate
    from wildcam.camera.presets import scene_preset

    bag = tmp_path / "bag"
    generate(bag, scene_preset("default", duration_s=3.0), full_frames=True)
    out = tmp_path / "bag.json"
    done = subprocess.run(
        [
            *WILDCAM,
            "detect",
            str(bag),
            "--out",
            str(out),
            "--topic",
            "/camera/image_raw",
            "--max-stage",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert check_batch_output(doc) == []
    (entry,) = doc["images"]
    assert entry["file"] == "bag#/camera/image_raw"
    assert entry["frame_rate"] == pytest.approx(10.0, rel=0.05)
    assert len(entry["frames_processed"]) == 30
    assert md_validate(out)["errors"] == []


def test_detect_refuses_what_it_cannot_read(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    for target in (tmp_path / "missing", tmp_path / "notes.txt", tmp_path):
        code, _, err = cli(
            capsys, "detect", str(target), "--out", str(tmp_path / "x.json"), "--max-stage", "1"
        )
        assert code == 2 and err.startswith("wildcam detect: "), err
    assert not (tmp_path / "x.json").exists()


def test_eval_writes_the_per_image_file(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "camera_traps/ena24"
    out = tmp_path / "eval-md.json"
    done = subprocess.run(
        [
            *WILDCAM,
            "eval",
            "--coco",
            str(folder / "coco_annotations.json"),
            "--md-json",
            str(out),
            "--max-stage",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert check_batch_output(doc) == []
    names = {i["file"] for i in doc["images"]}
    coco = json.loads((folder / "coco_annotations.json").read_text())
    assert names == {i["file_name"] for i in coco["images"]}
    assert md_validate(out, folder)["errors"] == []


def test_corrupt_image_in_a_tmp_folder_is_a_failure_entry(tmp_path: Path) -> None:
    """No real data needed: a synthetic image and a truncated one."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    image = np.full((120, 160, 3), 90, np.uint8)
    cv2.imwrite(str(folder / "grey.png"), image)
    (folder / "cut.png").write_bytes((folder / "grey.png").read_bytes()[:40])
    out = tmp_path / "o.json"
    done = subprocess.run(
        [*WILDCAM, "detect", str(folder), "--out", str(out), "--max-stage", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    files = {i["file"]: i for i in json.loads(out.read_text())["images"]}
    assert files["cut.png"]["failure"] and files["grey.png"]["detections"] is not None


def test_people_and_vehicles_the_check_found_are_listed_in_their_categories() -> None:
    deer = ScoredBox(Box(0, 0, 50, 50), 0.9)
    person = LabelledBox(Box(100, 0, 50, 100), 0.8, "person")
    faint = LabelledBox(Box(150, 50, 10, 10), 0.05, "vehicle")  # below min_conf
    region = RegionDecision(Box(0, 0, 200, 100), True, 0.9, 3, "large", (deer,), {3: 0.9})
    walker = RegionDecision(
        Box(0, 0, 200, 100), False, 0.0, 3, "large", (), {3: 0.0}, others=(person, faint)
    )
    out = frame_detections(FrameDecision((region, walker), frozenset({3})), 200, 100, 0.1)
    assert [(d.class_name, d.conf, d.bbox) for d in out] == [
        ("animal", 0.9, (0.0, 0.0, 0.25, 0.5)),
        ("person", 0.8, (0.5, 0.0, 0.25, 1.0)),
    ]
