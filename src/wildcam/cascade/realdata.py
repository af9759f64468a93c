"""The real labelled frames of the data folder, each with its group and split role.

Stills (every one holds an animal): ENA24 (COCO boxes), misc, burrowing owls, Snapshot Serengeti,
the squirrel sequence, the Camtrap DP example (``../specs`` beside the data folder). The
cats-and-dogs photos are left out: they are not camera-trap frames, and the students, trained on
them, score pets far higher than camera-trap animals. Empty frames
(no animal) are taken from clips: the road clips (evenly spread frames), the first frames of
camera-trap clips whose animal comes later (checked by eye), and, when that folder is given,
OpenCV's pedestrian (``vtest.avi``) and swaying-tree (``tree.avi``) clips. Which frames train,
calibrate or test is :func:`wildcam.cascade.splits.role` of the group.

Night frames are the infrared ones (:func:`wildcam.cascade.light.is_night`, re-exported here).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from wildcam.cascade.evaluate import LabelledImage, load_coco
from wildcam.cascade.light import is_night
from wildcam.cascade.splits import Role, role
from wildcam.types import Image

__all__ = [
    "EMPTY_CLIPS",
    "EMPTY_FIRST_FRAMES",
    "OPENCV_CLIPS",
    "RealItem",
    "is_night",
    "real_items",
]

STILL_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
EMPTY_CLIPS = {
    # Road clips without any animal: frames evenly spread over each clip.
    "bgslibrary/video.avi": 12,
    "bgslibrary/video02.avi": 12,
    "bgslibrary/video03.avi": 12,
}
EMPTY_FIRST_FRAMES = (
    # Camera-trap clips whose first frame shows no animal (checked by eye at 3x size); the
    # animal that triggered them comes later in the clip.
    "Kor_vid6_0485466_0567428_20141120__EK000019.AVI",
    "Sap_vid24_0524356_0589414_20110915__PICT0021.ASF",
    "Ta_cam170_678016_649215_20161227__02120086.AVI",
    "Trans_322__Cam_1_488454_9765353_Date_24-11-2017__01110103.AVI",
    "benjamin__04250002.MP4",
    "card_1.2_location__PICT0074.ASF",
    "Ta_cam17_691988_643179_20161119__PICT0026.AVI",
    "Gas_Vid20_0786029_0808836_20130725__EK000018.AVI",
)
OPENCV_CLIPS = {"vtest.avi": 12, "tree.avi": 12}
"""OpenCV's sample clips (Debian ``opencv-doc``, ``examples/data``): people walking, a tree in
the wind; no animal. Held back."""


@dataclass(frozen=True)
class RealItem:
    """A labelled real frame, its group (a path under the data folder) and the group's role."""

    item: LabelledImage
    group: str

    @property
    def role(self) -> Role:
        """``train``, ``calib`` or ``test`` (:func:`wildcam.cascade.splits.role`)."""
        return role(self.group)


def _stills(folder: Path, group: str) -> list[RealItem]:
    if not folder.is_dir():
        return []
    return [
        RealItem(LabelledImage(p, True), f"{group}/{p.name}")
        for p in sorted(folder.iterdir())
        if p.suffix.lower() in STILL_SUFFIXES
    ]


def _frames(clip: Path, count: int, first_only: bool = False) -> Iterable[tuple[int, Image]]:
    cap = cv2.VideoCapture(str(clip))
    try:
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        for k in range(1 if first_only else count):
            index = 0 if first_only else k * total // count
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, frame = cap.read()
            if ok:
                yield index, np.asarray(frame, np.uint8)
    finally:
        cap.release()


def real_items(data: Path, folder: Path, opencv: Path | None = None) -> list[RealItem]:
    """Every labelled real frame; empty clip frames are written as PNG files into ``folder``."""
    traps = data / "camera_traps"
    items = [
        RealItem(i, f"camera_traps/ena24/{i.path.name}")
        for i in load_coco(traps / "ena24" / "coco_annotations.json")
    ]
    for sub in ("misc", "buow", "serengeti"):
        items += _stills(traps / sub, f"camera_traps/{sub}")
    items += _stills(traps / "squirrels" / "images", "camera_traps/squirrels")
    items += _stills(
        data.parent / "specs" / "camtrap-dp-1.0.2" / "example" / "media", "camtrap-dp"
    )

    def empty(clip: Path, group: str, count: int, first_only: bool = False) -> None:
        for index, frame in _frames(clip, count, first_only):
            path = folder / f"{clip.stem}_{index}.png"
            cv2.imwrite(str(path), frame)
            items.append(RealItem(LabelledImage(path, False), group))

    for clip, count in EMPTY_CLIPS.items():
        empty(data / "videos" / clip, f"videos/{clip}", count)
    for name in EMPTY_FIRST_FRAMES:
        empty(data / "videos" / "zamba" / name, f"videos/zamba/{name}", 1, first_only=True)
    if opencv is not None:
        for name, count in OPENCV_CLIPS.items():
            if (opencv / name).is_file():
                empty(opencv / name, f"opencv/{name}", count)
    return items
