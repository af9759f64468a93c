"""Motion gate configuration: one frozen dataclass, one source of parameter metadata.

Every threshold of the gate lives in :class:`MotionConfig`. Each field carries its range and
description in ``dataclasses.field(metadata=...)``; :data:`MotionConfig.FIELDS` exposes them as
:class:`FieldSpec` records so a ROS layer can declare parameters (with ranges) without
repeating a number. Construction validates, so a live parameter change goes through the same
checks as start-up: ``config.replace(pixel_threshold=30)`` raises :class:`ConfigError` naming
the field and its range.

Polygon masks are full-frame pixel coordinates. Their text form (for a ROS string
parameter) is ``"x,y x,y x,y; x,y x,y x,y"``: points separated by spaces, polygons by ``;``
(see :func:`parse_polygons` and :func:`format_polygons`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from wildcam.errors import ConfigError
from wildcam.params import param_metadata
from wildcam.power.profile import DEFAULT_PROFILE, PROFILE_NAMES

__all__ = [
    "AUTO_SMALL_WIDTH",
    "FieldSpec",
    "MotionConfig",
    "Polygon",
    "format_polygons",
    "parse_polygons",
]

#: Width in pixels the small frame aims for when ``downscale`` is 0 (automatic).
AUTO_SMALL_WIDTH = 160

Polygon = tuple[tuple[float, float], ...]


class FieldSpec(NamedTuple):
    """Metadata of one :class:`MotionConfig` field, enough to declare a ROS parameter."""

    name: str
    type: type  # int, float, bool, str, or tuple for polygon masks
    default: Any
    min: float | None
    max: float | None
    description: str
    unit: str = ""
    choices: tuple[str, ...] | None = None


def _spec(default: Any, lo: float | None, hi: float | None, kind: type, text: str,
          unit: str = "", ros: bool = True, choices: tuple[str, ...] | None = None) -> Any:
    """Return a dataclass field whose metadata holds type, range, unit and description.

    Unless ``ros`` is False the field is also a node parameter (:mod:`wildcam.params`); polygon
    masks are declared as one string parameter in their text form.
    """
    meta: dict[str, Any] = {"min": lo, "max": hi, "type": kind, "description": text, "unit": unit,
                            "choices": choices}
    if ros:
        described = f"{text} [{unit}]" if unit else text
        meta.update(param_metadata(described, min=lo, max=hi, choices=choices,
                                   text_default="" if kind is tuple else None))
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class MotionConfig:
    """Every threshold of :class:`~wildcam.motion.gate.MotionGate`, validated on construction.

    Small-frame quantities (areas, kernels) are in pixels of the reduced frame; masks and ROIs
    are in full-frame pixels. Frame counts are frames, not seconds, because the gate sees one
    frame per call whatever the frame rate.
    """

    downscale: int = _spec(
        0, 0, 32, int,
        "Full-to-small frame reduction factor; 0 picks the factor that makes the small frame "
        f"about {AUTO_SMALL_WIDTH} px wide (4 for 640x480, 8 for 1280x720). Used where the "
        "gate reduces frames itself (benchmarks); in the graph the camera_driver's "
        "reduce_factor decides, so this is no node parameter.",
        unit="factor", ros=False,
    )
    pixel_threshold: int = _spec(
        18, 1, 254, int,
        "Grey-level difference from the (illumination-normalised) background that marks a "
        "small-frame pixel as changed.",
        unit="grey levels",
    )
    learning_rate: float = _spec(
        0.05, 0.0001, 0.5, float,
        "Background update rate per frame (exponential average, applied every fourth frame at "
        "the equivalent rate); higher follows scene change faster but absorbs a lingering "
        "animal sooner. Moving pixels learn at a tenth of it.",
        unit="per frame",
    )
    min_changed_fraction: float = _spec(
        0.002, 0.0, 1.0, float,
        "Fraction of unmasked small-frame pixels that must change before blobs are searched; "
        "below it (and below min_blob_area pixels) the frame is still without further work.",
        unit="fraction",
    )
    min_blob_area: int = _spec(
        8, 1, 100000, int,
        "Smallest blob, in small-frame pixels after despeckling (and, with "
        "require_persistence, also changed in the previous frame), that counts as motion; "
        "smaller ones are rain, snow or sensor noise.",
        unit="small-frame px",
    )
    despeckle_width: int = _spec(
        2, 0, 15, int,
        "Width of the erosion that removes changed specks and near-vertical streaks (rain, "
        "snow, noise) narrower than it before blob search; 0 or 1 with height 1 disables.",
        unit="small-frame px",
    )
    despeckle_height: int = _spec(
        1, 1, 15, int,
        "Height of that erosion; 1 keeps thin horizontal shapes (a bird's wings) that a "
        "square kernel would erase.",
        unit="small-frame px",
    )
    texture_tolerance: float = _spec(
        0.25, 0.0, 2.0, float,
        "Extra threshold per grey level of the background's local 3x3 range, so that a "
        "one-pixel shift of textured background (leaves in a breeze, camera shake) is not a "
        "change; 0 disables.",
        unit="per grey level",
    )
    texture_cap: int = _spec(
        30, 0, 254, int,
        "Largest extra threshold from texture_tolerance.",
        unit="grey levels",
    )
    require_persistence: bool = _spec(
        True, None, None, bool,
        "Count a changed pixel towards a blob only if it also changed in the previous frame: "
        "rain and snow rarely hit the same place twice, animals do (one frame of latency).",
    )
    illumination_threshold: float = _spec(
        10.0, 1.0, 255.0, float,
        "Change of the global mean grey level within a few frames that is examined as a "
        "possible illumination jump.",
        unit="grey levels",
    )
    illumination_block_fraction: float = _spec(
        0.6, 0.05, 1.0, float,
        "Fraction of the 8x6 image blocks that must change together for a mean jump to count "
        "as an illumination change rather than a large animal.",
        unit="fraction",
    )
    ir_mean_jump: float = _spec(
        30.0, 1.0, 255.0, float,
        "Global mean jump of an illumination change from which it is reported as an IR switch "
        "(illuminator on/off) unless the frames are known to be in colour.",
        unit="grey levels",
    )
    chroma_grey_level: float = _spec(
        6.0, 0.0, 255.0, float,
        "Mean colour saturation (see reduce.chroma) below which a frame is grey (IR); above "
        "twice this level it is colour again. A flip between the two is an IR switch.",
        unit="grey levels",
    )
    recalibration_frames: int = _spec(
        4, 1, 1000, int,
        "Frames after an illumination change or IR switch during which the background is "
        "re-learnt from the frame and motion is suppressed.",
        unit="frames",
    )
    vegetation_suppression: bool = _spec(
        True, None, None, bool,
        "Raise the threshold of pixels that keep flickering (swaying vegetation, water).",
    )
    activity_rate: float = _spec(
        0.04, 0.0001, 1.0, float,
        "Per-frame rate of the per-pixel activity average: the share of recent samples (every "
        "fourth frame) in which the pixel's changed-in-two-samples-running state flipped.",
        unit="per frame",
    )
    activity_level: float = _spec(
        0.08, 0.01, 1.0, float,
        "Activity above which a pixel's threshold is raised; the full boost is reached at "
        "twice this level.",
        unit="fraction",
    )
    activity_boost: int = _spec(
        60, 0, 254, int,
        "Largest extra threshold given to flickering pixels.",
        unit="grey levels",
    )
    activity_memory_frames: int = _spec(
        6000, 8, 10_000_000, int,
        "Frames over which a pixel's peak activity is forgotten: vegetation that swayed in "
        "one gust keeps its raised threshold for the next (about 10 min at 10 fps).",
        unit="frames",
    )
    event_start_frames: int = _spec(
        2, 1, 1000, int,
        "Consecutive motion frames that open a motion event.",
        unit="frames",
    )
    event_end_frames: int = _spec(
        10, 1, 100000, int,
        "Consecutive frames without motion that close the open event.",
        unit="frames",
    )
    roi_padding: float = _spec(
        0.15, 0.0, 2.0, float,
        "Padding added on each side of a region of interest, as a fraction of its larger side.",
        unit="fraction",
    )
    max_rois: int = _spec(
        8, 1, 64, int,
        "Most regions of interest reported per frame; smaller extra regions are merged.",
        unit="count",
    )
    masks: tuple[Polygon, ...] = _spec(
        (), None, None, tuple,
        "Polygons in full-frame pixel coordinates whose area is ignored (road, clock overlay); "
        "text form 'x,y x,y x,y; x,y ...'.",
        unit="full-frame px",
    )
    power_profile: str = _spec(
        DEFAULT_PROFILE, None, None, str,
        "Device power profile of the energy reports (config/power_profiles/<name>.yaml; live).",
        choices=PROFILE_NAMES,
    )

    FIELDS: ClassVar[tuple[FieldSpec, ...]]

    def __post_init__(self) -> None:
        """Validate every field; coerce ints given for float fields and normalise masks."""
        for spec in self.FIELDS:
            value = getattr(self, spec.name)
            object.__setattr__(self, spec.name, _check(spec, value))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> MotionConfig:
        """Build a config from a parameter mapping, rejecting unknown keys.

        ``masks`` may be given in text form (see :func:`parse_polygons`).
        """
        known = {spec.name for spec in cls.FIELDS}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown motion parameter(s): {', '.join(unknown)}")
        return cls(**dict(values))

    def replace(self, **changes: Any) -> MotionConfig:
        """Return a validated copy with ``changes`` applied (unknown names raise ConfigError)."""
        return MotionConfig.from_mapping({**self.as_dict(), **changes})

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (masks stay tuples)."""
        return {spec.name: getattr(self, spec.name) for spec in self.FIELDS}

    def factor_for(self, width: int) -> int:
        """Return the reduction factor used for a full frame ``width`` pixels wide."""
        if self.downscale:
            return self.downscale
        return max(1, round(width / AUTO_SMALL_WIDTH))


def _check(spec: FieldSpec, value: Any) -> Any:
    """Return ``value`` checked against ``spec`` (and coerced), or raise ConfigError."""
    name = spec.name
    if spec.type is tuple:
        return _check_polygons(name, value)
    if spec.type is str:
        if not isinstance(value, str) or (spec.choices and value not in spec.choices):
            raise ConfigError(f"{name} must be one of {' | '.join(spec.choices or ())}, "
                              f"got {value!r}")
        return value
    if spec.type is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be a bool, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number in [{spec.min}, {spec.max}], got {value!r}")
    if spec.type is int:
        if isinstance(value, float):
            if not value.is_integer():
                raise ConfigError(f"{name} must be an integer in [{spec.min}, {spec.max}], "
                                  f"got {value!r}")
            value = int(value)
    else:
        value = float(value)
        if math.isnan(value):
            raise ConfigError(f"{name} must be a number in [{spec.min}, {spec.max}], got nan")
    lo, hi = spec.min, spec.max
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{name} must be in [{lo}, {hi}], got {value!r}")
    return value


def _check_polygons(name: str, value: Any) -> tuple[Polygon, ...]:
    """Return polygons as a tuple of tuples of float pairs, or raise ConfigError."""
    if isinstance(value, str):
        return parse_polygons(value, name=name)
    try:
        polygons = tuple(
            tuple((float(x), float(y)) for x, y in polygon) for polygon in value
        )
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"{name} must be a sequence of polygons of (x, y) points, got {value!r}"
        ) from err
    for polygon in polygons:
        if len(polygon) < 3:
            raise ConfigError(f"{name}: a polygon needs at least 3 points, got {polygon!r}")
        if not all(math.isfinite(c) for point in polygon for c in point):
            raise ConfigError(f"{name}: polygon coordinates must be finite, got {polygon!r}")
    return polygons


def parse_polygons(text: str, *, name: str = "masks") -> tuple[Polygon, ...]:
    """Parse ``"x,y x,y x,y; x,y ..."`` into polygons; an empty string gives none."""
    polygons: list[Polygon] = []
    for chunk in text.split(";"):
        if not chunk.strip():
            continue
        try:
            points = tuple(
                (float(x), float(y))
                for x, y in (pair.split(",") for pair in chunk.split())
            )
        except ValueError as err:
            raise ConfigError(f"{name}: cannot parse polygon {chunk.strip()!r}") from err
        polygons.append(points)
    return _check_polygons(name, polygons)


def format_polygons(polygons: Iterable[Polygon]) -> str:
    """Return the text form of ``polygons`` (inverse of :func:`parse_polygons`)."""
    return "; ".join(" ".join(f"{x:g},{y:g}" for x, y in polygon) for polygon in polygons)


MotionConfig.FIELDS = tuple(
    FieldSpec(
        name=f.name,
        type=f.metadata["type"],
        default=f.default,
        min=f.metadata["min"],
        max=f.metadata["max"],
        description=f.metadata["description"],
        unit=f.metadata["unit"],
        choices=f.metadata["choices"],
    )
    for f in dataclasses.fields(MotionConfig)
)
