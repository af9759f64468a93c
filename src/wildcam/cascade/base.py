"""The cascade's model interface: what a stage model is given, what it answers.

Three stages, cheapest first: 1 tiny (animal vs background on a motion-region crop), 2 medium
(a small detector or classifier with a box head), 3 large (the camera-trap detector on a region
or the full frame). Every backend — ONNX Runtime models built from ``models/manifest.json`` or the
:class:`FakeModel` used in tests — satisfies :class:`StageModel`; the cascade logic only ever sees
that Protocol.

Each model carries its confidence band ``[c_low, c_high)``: a score below ``c_low`` is a confident
"background", at or above ``c_high`` a confident "animal", anything between is *unsure* and may
escalate to the next stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from wildcam.errors import ConfigError
from wildcam.types import Box, Image

if TYPE_CHECKING:
    from wildcam.cascade.views import TileBand

__all__ = [
    "STAGES",
    "FakeModel",
    "LabelledBox",
    "RegionResult",
    "ResultCheck",
    "ScoredBox",
    "StageModel",
    "check_band",
]

STAGES = (1, 2, 3)
"""Stage numbers: 1 tiny, 2 medium, 3 large."""


@dataclass(frozen=True)
class ScoredBox:
    """A box found by a model, in full-frame pixels, with its "animal" score (0..1)."""

    box: Box
    score: float


@dataclass(frozen=True)
class LabelledBox:
    """A box of something other than an animal (``label``: "person" or "vehicle"), in
    full-frame pixels, with its detector's score."""

    box: Box
    score: float
    label: str


@dataclass(frozen=True)
class RegionResult:
    """A model's answer for one region: the presence score and the boxes it found there.

    ``score`` is the calibrated probability that an animal is in the region. Classifiers return
    no ``boxes`` (the region itself is the box); detectors return their boxes, best first.
    ``others``: people and vehicles found there (:mod:`wildcam.cascade.objects`), not animals.
    ``sure_side``: the shortest side (frame pixels) a box needs before a detector is sure of
    it (0: any box; the coarse look sees a small object too coarsely to be sure,
    :meth:`sure_of`).
    """

    region: Box
    score: float
    boxes: tuple[ScoredBox, ...] = ()
    others: tuple[LabelledBox, ...] = ()
    sure_side: float = 0.0

    def sure_of(self, c_high: float) -> bool:
        """Whether a score at or above ``c_high`` may decide "animal": always for a classifier,
        for a detector only when a box scoring that much is large enough (``sure_side``)."""
        if self.sure_side <= 0.0 or not self.boxes:
            return True
        return any(
            b.score >= c_high and min(b.box.w, b.box.h) >= self.sure_side for b in self.boxes
        )


@runtime_checkable
class StageModel(Protocol):
    """One stage of the cascade.

    ``predict`` takes the full BGR frame and regions in its pixels (a motion ROI, or the whole
    frame) and returns one :class:`RegionResult` per region, in order. It raises
    :class:`~wildcam.errors.ModelError` when the runtime fails.
    """

    model_id: str
    stage: int
    c_low: float
    c_high: float

    def predict(self, image: Image, regions: Sequence[Box]) -> list[RegionResult]:
        """Score each region of ``image``."""
        ...


@runtime_checkable
class ResultCheck(Protocol):
    """A stage model that also checks another model's animal for people and vehicles (the
    detector stages the loader wraps: :class:`~wildcam.cascade.objects.PeopleVehicles`); the
    runner lends it to the stages without a check of their own."""

    def check_result(self, image: Image, result: RegionResult, threshold: float) -> RegionResult:
        """``result`` (an animal at ``threshold``) with the people and vehicles taken out."""
        ...


def check_band(c_low: float, c_high: float) -> None:
    """Raise :class:`ConfigError` unless ``0 <= c_low <= c_high <= 1``."""
    if not 0.0 <= c_low <= c_high <= 1.0:
        raise ConfigError(
            f"confidence band needs 0 <= c_low <= c_high <= 1, got c_low={c_low}, c_high={c_high}"
        )


@dataclass
class FakeModel:
    """A stage model for tests: the score of a region comes from ``score_fn(image, region)``.

    ``calls`` counts regions scored, so tests can check which stages ran.
    """

    model_id: str
    stage: int
    score_fn: Callable[[Image, Box], float]
    c_low: float = 0.2
    c_high: float = 0.8
    c_high_night: float | None = None
    tiles: TileBand | None = None
    calls: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        check_band(self.c_low, self.c_high)
        if self.c_high_night is not None:
            check_band(self.c_low, self.c_high_night)
        if self.tiles is not None:
            check_band(self.tiles.c_low, self.tiles.c_high)

    def predict(self, image: Image, regions: Sequence[Box]) -> list[RegionResult]:
        """Score each region with ``score_fn``; a detector-like box equal to the region."""
        self.calls += len(regions)
        out = []
        for region in regions:
            score = float(self.score_fn(image, region))
            out.append(RegionResult(region, score, (ScoredBox(region, score),)))
        return out
