"""Which real frames train, calibrate and test the models (one rule, used by all three).

Every real file is a *group* (a still, a clip): its path relative to the data folder.

* ``train``: groups the students learn from (``make models``): a stable hash of the group puts
  about :data:`TRAIN_HOLDOUT_PERCENT` % of groups out of training, the rest in.
* ``calib``: about half of the groups training leaves out (a second, salted hash): the bands,
  thresholds and score calibration are fitted on these (``wildcam.cascade.calibrate``).
* ``test`` (held back): the other half of those groups, plus every source the pipeline never
  reads for training or calibration (:data:`HELD_BACK_SOURCES`: Snapshot Serengeti, the
  squirrel sequence, the Camtrap DP example, and OpenCV's pedestrian and swaying-tree clips).
  Nothing is trained or tuned on it; ``bench/cascade.py`` reports on it and lists its files.

No group is on two sides. Pure Python: training (torch), calibration and the benchmark import it.
"""

from __future__ import annotations

import hashlib
from typing import Literal

__all__ = [
    "HELD_BACK_SOURCES",
    "TRAIN_HOLDOUT_PERCENT",
    "Role",
    "role",
    "stable_bucket",
    "training_split",
]

Role = Literal["train", "calib", "test"]

TRAIN_HOLDOUT_PERCENT = 30
"""Share of groups training leaves out (unchanged since the first model build)."""

HELD_BACK_SOURCES = (
    "camera_traps/serengeti/",
    "camera_traps/squirrels/",
    "camtrap-dp/",
    "opencv/",
)
"""Group prefixes that are always held back (never trained or tuned on)."""


def stable_bucket(text: str, buckets: int = 100) -> int:
    """``text``'s bucket in ``0 .. buckets - 1`` by a stable hash (the same on every run and
    machine, unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") % buckets


def training_split(group: str) -> Literal["train", "eval"]:
    """``eval`` for the groups training leaves out, else ``train`` (the students' split)."""
    return "eval" if stable_bucket(group) < TRAIN_HOLDOUT_PERCENT else "train"


def role(group: str) -> Role:
    """The role of ``group``: ``train``, ``calib`` or ``test`` (held back)."""
    if group.startswith(HELD_BACK_SOURCES):
        return "test"
    if training_split(group) == "train":
        return "train"
    return "test" if stable_bucket("calib:" + group) < 50 else "calib"
