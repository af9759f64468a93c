"""Ground truth of the synthetic scene and its JSON file format.

The file holds the scene config (enough to re-render every frame), one record per frame,
the animal-visit events and the nuisance intervals::

    {"format": "wildcam-synthetic-truth", "version": 1, "config": {...},
     "frames": [{"index", "stamp", "boxes": [[x, y, w, h]], "species", "nuisances", "ir"}],
     "events": [{"start_s", "end_s", "strength", "kind"}],
     "nuisance_intervals": {"wind": [...], "rain": [...], ...}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wildcam.camera.scene import Interval, SceneConfig, scene_from_dict, scene_to_dict
from wildcam.errors import InputError
from wildcam.types import Box

__all__ = [
    "FORMAT",
    "NUISANCES",
    "FrameTruth",
    "GroundTruth",
    "load_ground_truth",
    "write_ground_truth",
]

FORMAT = "wildcam-synthetic-truth"
NUISANCES = ("wind", "rain", "snow", "ir_switch", "ir")


@dataclass(frozen=True)
class FrameTruth:
    """What is in one frame: animal boxes (clipped to the frame) and active nuisances."""

    index: int
    stamp: float
    boxes: tuple[Box, ...]
    species: tuple[str, ...]
    nuisances: frozenset[str]
    ir: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "index": self.index,
            "stamp": self.stamp,
            "boxes": [list(b) for b in self.boxes],
            "species": list(self.species),
            "nuisances": sorted(self.nuisances),
            "ir": self.ir,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameTruth:
        """Inverse of :meth:`to_dict`."""
        return cls(
            int(data["index"]),
            float(data["stamp"]),
            tuple(Box(*(int(v) for v in b)) for b in data["boxes"]),
            tuple(str(s) for s in data["species"]),
            frozenset(str(n) for n in data["nuisances"]),
            bool(data["ir"]),
        )


@dataclass(frozen=True)
class GroundTruth:
    """A whole scene's truth, as written to and read from a JSON file."""

    config: SceneConfig
    frames: tuple[FrameTruth, ...]
    events: tuple[Interval, ...]
    nuisance_intervals: dict[str, tuple[Interval, ...]]


def _interval(data: dict[str, Any]) -> Interval:
    return Interval(
        float(data["start_s"]), float(data["end_s"]), float(data["strength"]), str(data["kind"])
    )


def write_ground_truth(truth: GroundTruth, path: str | Path) -> None:
    """Write ``truth`` as JSON to ``path``."""
    data = {
        "format": FORMAT,
        "version": 1,
        "config": scene_to_dict(truth.config),
        "frames": [f.to_dict() for f in truth.frames],
        "events": [e._asdict() for e in truth.events],
        "nuisance_intervals": {
            k: [i._asdict() for i in v] for k, v in truth.nuisance_intervals.items()
        },
    }
    Path(path).write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")


def load_ground_truth(path: str | Path) -> GroundTruth:
    """Read a file written by :func:`write_ground_truth`; malformed content is InputError."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read ground truth {path}: {err}") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path} is not a {FORMAT} file")
    try:
        return GroundTruth(
            config=scene_from_dict(data["config"]),
            frames=tuple(FrameTruth.from_dict(f) for f in data["frames"]),
            events=tuple(_interval(e) for e in data["events"]),
            nuisance_intervals={
                str(k): tuple(_interval(i) for i in v)
                for k, v in data["nuisance_intervals"].items()
            },
        )
    except (KeyError, TypeError, ValueError, AttributeError) as err:  # ConfigError too
        raise InputError(f"malformed ground truth {path}: {err!r}") from err
