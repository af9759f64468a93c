"""Motion gate configuration: one frozen dataclass, one source of parameter metadata.

Every threshold of the gate lives in :class:`MotionConfig`, declared with
:func:`wildcam.params.param` (range, unit, description), so the ROS layer declares the node's
parameters from it like any other config class (``downscale`` is a setting of the class only).
Construction validates, so a live parameter change goes through the same checks as start-up:
``dataclasses.replace(config, pixel_threshold=300)`` raises :class:`ConfigError` naming the field
and its range.

Polygon masks are full-frame pixel coordinates. Their text form (for a ROS string
parameter) is ``"x,y x,y x,y; x,y x,y x,y"``: points separated by spaces, polygons by ``;``
(see :func:`parse_polygons` and :func:`format_polygons`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from wildcam.errors import ConfigError
from wildcam.params import check_ranges, param, power_profile_param

__all__ = [
    "AUTO_SMALL_WIDTH",
    "MotionConfig",
    "Polygon",
    "format_polygons",
    "parse_polygons",
]

#: Width in pixels the small frame aims for when ``downscale`` is 0 (automatic).
AUTO_SMALL_WIDTH = 160

Polygon = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class MotionConfig:
    """Every threshold of :class:`~wildcam.motion.gate.MotionGate`, validated on construction.

    Small-frame quantities (areas, kernels) are in pixels of the reduced frame; masks and ROIs
    are in full-frame pixels. Frame counts are frames, not seconds, because the gate sees one
    frame per call whatever the frame rate.
    """

    downscale: int = param(
        0,
        "Full-to-small frame reduction factor; 0 picks the factor that makes the small frame "
        f"about {AUTO_SMALL_WIDTH} px wide (4 for 640x480, 8 for 1280x720). Used where the "
        "gate reduces frames itself (benchmarks); in the graph the camera_driver's "
        "reduce_factor decides, so this is no node parameter.",
        min=0,
        max=32,
        unit="factor",
        node=False,
    )
    pixel_threshold: int = param(
        18,
        "Grey-level difference from the (illumination-normalised) background that marks a "
        "small-frame pixel as changed.",
        min=1,
        max=254,
        unit="grey levels",
    )
    learning_rate: float = param(
        0.05,
        "Background update rate per frame (exponential average, applied every fourth frame at "
        "the equivalent rate); higher follows scene change faster but absorbs a lingering "
        "animal sooner. Moving pixels learn at a tenth of it.",
        min=0.0001,
        max=0.5,
        unit="per frame",
    )
    min_changed_fraction: float = param(
        0.002,
        "Fraction of unmasked small-frame pixels that must change before blobs are searched; "
        "below it (and below min_blob_area pixels) the frame is still without further work.",
        min=0.0,
        max=1.0,
        unit="fraction",
    )
    min_blob_area: int = param(
        8,
        "Smallest blob, in small-frame pixels after despeckling (and, with "
        "require_persistence, also changed in the previous frame), that counts as motion; "
        "smaller ones are rain, snow or sensor noise.",
        min=1,
        max=100000,
        unit="small-frame px",
    )
    despeckle_width: int = param(
        2,
        "Width of the erosion that removes changed specks and near-vertical streaks (rain, "
        "snow, noise) narrower than it before blob search; 0 or 1 with height 1 disables.",
        min=0,
        max=15,
        unit="small-frame px",
    )
    despeckle_height: int = param(
        1,
        "Height of that erosion; 1 keeps thin horizontal shapes (a bird's wings) that a "
        "square kernel would erase.",
        min=1,
        max=15,
        unit="small-frame px",
    )
    texture_tolerance: float = param(
        0.25,
        "Extra threshold per grey level of the background's local 3x3 range, so that a "
        "one-pixel shift of textured background (leaves in a breeze, camera shake) is not a "
        "change; 0 disables.",
        min=0.0,
        max=2.0,
        unit="per grey level",
    )
    texture_cap: int = param(
        30,
        "Largest extra threshold from texture_tolerance.",
        min=0,
        max=254,
        unit="grey levels",
    )
    require_persistence: bool = param(
        True,
        "Count a changed pixel towards a blob only if it also changed in the previous frame: "
        "rain and snow rarely hit the same place twice, animals do (one frame of latency).",
    )
    illumination_threshold: float = param(
        10.0,
        "Change of the global mean grey level within a few frames that is examined as a "
        "possible illumination jump.",
        min=1.0,
        max=255.0,
        unit="grey levels",
    )
    illumination_block_fraction: float = param(
        0.6,
        "Fraction of the 8x6 image blocks that must change together for a mean jump to count "
        "as an illumination change rather than a large animal.",
        min=0.05,
        max=1.0,
        unit="fraction",
    )
    ir_mean_jump: float = param(
        30.0,
        "Global mean jump of an illumination change from which it is reported as an IR switch "
        "(illuminator on/off) unless the frames are known to be in colour.",
        min=1.0,
        max=255.0,
        unit="grey levels",
    )
    chroma_grey_level: float = param(
        6.0,
        "Mean colour saturation (see reduce.chroma) below which a frame is grey (IR); above "
        "twice this level it is colour again. A flip between the two is an IR switch.",
        min=0.0,
        max=255.0,
        unit="grey levels",
    )
    recalibration_frames: int = param(
        4,
        "Frames after an illumination change or IR switch during which the background is "
        "re-learnt from the frame and motion is suppressed.",
        min=1,
        max=1000,
        unit="frames",
    )
    vegetation_suppression: bool = param(
        True,
        "Raise the threshold of pixels that keep flickering (swaying vegetation, water).",
    )
    activity_rate: float = param(
        0.04,
        "Per-frame rate of the per-pixel activity average: the share of recent samples (every "
        "fourth frame) in which the pixel's changed-in-two-samples-running state flipped.",
        min=0.0001,
        max=1.0,
        unit="per frame",
    )
    activity_level: float = param(
        0.08,
        "Activity above which a pixel's threshold is raised; the full boost is reached at "
        "twice this level.",
        min=0.01,
        max=1.0,
        unit="fraction",
    )
    activity_boost: int = param(
        60,
        "Largest extra threshold given to flickering pixels.",
        min=0,
        max=254,
        unit="grey levels",
    )
    activity_memory_frames: int = param(
        6000,
        "Frames over which a pixel's peak activity is forgotten: vegetation that swayed in "
        "one gust keeps its raised threshold for the next (about 10 min at 10 fps).",
        min=8,
        max=10_000_000,
        unit="frames",
    )
    event_start_frames: int = param(
        2,
        "Consecutive motion frames that open a motion event.",
        min=1,
        max=1000,
        unit="frames",
    )
    trigger_frames: int = param(
        3,
        "Frames after a trigger (camera/trigger: a PIR edge) counted as motion frames, the "
        "first opening an event whatever the gate sees: an animal already in view when the "
        "camera opens and standing still changes nothing against a background learnt with "
        "it, so only the trigger says it is there. Those frames carry no regions, so the "
        "cascade decides the whole frame. 0: triggers open nothing (motion alone decides).",
        min=0,
        max=1000,
        unit="frames",
    )
    event_end_frames: int = param(
        10,
        "Consecutive frames without motion that close the open event.",
        min=1,
        max=100000,
        unit="frames",
    )
    roi_padding: float = param(
        0.15,
        "Padding added on each side of a region of interest, as a fraction of its larger side.",
        min=0.0,
        max=2.0,
        unit="fraction",
    )
    max_rois: int = param(
        8,
        "Most regions of interest reported per frame; smaller extra regions are merged.",
        min=1,
        max=64,
        unit="count",
    )
    masks: tuple[Polygon, ...] = param(
        (),
        "Polygons in full-frame pixel coordinates whose area is ignored (road, clock overlay); "
        "text form 'x,y x,y x,y; x,y ...'.",
        unit="full-frame px",
        text_default="",
    )
    power_profile: str = power_profile_param()

    def __post_init__(self) -> None:
        """Validate every field; coerce ints given for float fields and normalise masks."""
        object.__setattr__(self, "masks", _check_polygons("masks", self.masks))
        check_ranges(self)

    def factor_for(self, width: int) -> int:
        """Return the reduction factor used for a full frame ``width`` pixels wide."""
        if self.downscale:
            return self.downscale
        return max(1, round(width / AUTO_SMALL_WIDTH))


def _check_polygons(name: str, value: Any) -> tuple[Polygon, ...]:
    """Return polygons as a tuple of tuples of float pairs, or raise ConfigError."""
    if isinstance(value, str):
        return parse_polygons(value, name=name)
    try:
        polygons = tuple(tuple((float(x), float(y)) for x, y in polygon) for polygon in value)
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
                (float(x), float(y)) for x, y in (pair.split(",") for pair in chunk.split())
            )
        except ValueError as err:
            raise ConfigError(f"{name}: cannot parse polygon {chunk.strip()!r}") from err
        polygons.append(points)
    return _check_polygons(name, polygons)


def format_polygons(polygons: Iterable[Polygon]) -> str:
    """Return the text form of ``polygons`` (inverse of :func:`parse_polygons`)."""
    return "; ".join(" ".join(f"{x:g},{y:g}" for x, y in polygon) for polygon in polygons)
