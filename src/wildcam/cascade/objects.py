"""People and vehicles: keep them from being counted as animals, and keep people out of images.

MegaDetector-Lite, the large model, has one class ("animal") and fires on people and cars; the
students, which never saw a person, call a walker an animal too. The manifest's
people-and-vehicles detector (stage 0: NanoDet, COCO's 80 classes, converted at build time by
:mod:`wildcam.training.objects`) looks at every animal the cascade decides:

* a detector stage's (:class:`PeopleVehicles` wraps it): the detector looks at the frame the
  detector stage called an animal, and again closer (as at a student's region, below) around
  each animal box it saw there as a small object and matched to nothing (:func:`look_closer`:
  a distant walker is a speck on the whole frame);
* a student's (:meth:`PeopleVehicles.check_result`, called by the runner): the detector looks at
  the area around the region, as the large model would see it (the region plus the entry's
  context, at least 1 / ``MAX_ZOOM`` of the frame: a walker of a motion region is up to twice
  as large as in the whole frame); the student's box, or the motion region itself, is its box
  (a whole frame, a still, locates nothing: its people are only listed).

Each animal box at or above the deciding threshold that a person or vehicle box covers (IoU at
least the entry's ``match_iou``, that box's score at least the entry's ``c_high``) is that
person or vehicle, not an animal; so is one that holds the centres of :data:`GROUP` or more of
them, a box around a crowd or a road full of cars (:func:`relabel`). A region whose animal
boxes are all relabelled scores its best remaining box (0 when none is left), so the cascade's
band decides it as usual. The relabelled boxes, and every other person the detector saw in the
region, travel on as :attr:`RegionResult.others`, so a node can blur the people in any image it
sends (:func:`blur_people`).

The check runs only on an animal, inside the deciding stage's energy meter. Pure numpy and
ONNX Runtime; no rclpy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from wildcam.cascade.base import LabelledBox, RegionResult, ScoredBox, StageModel
from wildcam.cascade.manifest import ModelEntry
from wildcam.cascade.onnx_models import (
    RuntimeOptions,
    _OnnxModel,
    detector_area,
    letterbox,
    normalise,
    open_session,
)
from wildcam.errors import ModelError
from wildcam.types import Box, Image

__all__ = [
    "GROUP",
    "LABELS",
    "MATCH_IOU",
    "SMALL_AREA",
    "ObjectDetector",
    "PeopleVehicles",
    "best_match",
    "blur_people",
    "decode_nanodet",
    "detector_ids",
    "group_in",
    "load_objects",
    "look_closer",
    "looking_at",
    "model_ids",
    "relabel",
]

LABELS = {
    "person": "person",
    "bicycle": "vehicle",
    "car": "vehicle",
    "motorcycle": "vehicle",
    "bus": "vehicle",
    "train": "vehicle",
    "truck": "vehicle",
}
"""COCO class -> what wildcam reports (MegaDetector's categories: animal, person, vehicle)."""

SMALL_AREA = 32 * 32
"""A small object for a detector, in its input pixels: COCO's definition (area below 32 x 32),
where COCO detectors such as NanoDet score far lower (their small-object AP)."""
MATCH_IOU = 0.3
"""Default overlap of a large-model box and a person/vehicle box that makes them one object
(the manifest entry's ``match_iou`` overrides it)."""
GROUP = 2
"""People or vehicles centred inside one animal box that make it a box around a group of them,
not an animal. MegaDetector-Lite puts one box around a whole scene of them (a road with its
cars, a group of walkers), which no single person or vehicle box matches. One is not enough:
a rider on a horse, a herder in front of a cow."""


def decode_nanodet(
    heads: Sequence[tuple[np.ndarray, np.ndarray]],
    strides: Sequence[int],
    side: int,
    min_score: float,
) -> list[tuple[float, int, tuple[float, float, float, float]]]:
    """NanoDet (generalised focal loss) head outputs -> ``(score, class, (x0, y0, x1, y1))`` in
    input pixels, for every point whose best class scores at least ``min_score``.

    Each head is ``(scores [N, classes], distances [N, 4 * (reg_max + 1)])`` on a square grid of
    ``side / stride`` points, row by row; a point's box is its position minus/plus the
    expected value of each side's distance distribution (softmax over ``reg_max + 1`` bins)
    times the stride.
    """
    out = []
    for (scores, dist), stride in zip(heads, strides, strict=True):
        cells = side // stride
        if scores.shape[0] != cells * cells:
            raise ModelError(f"head of stride {stride}: {scores.shape[0]} points, not {cells}^2")
        best = scores.max(axis=1)
        keep = np.nonzero(best >= min_score)[0]
        if keep.size == 0:
            continue
        bins = dist[keep].reshape(len(keep), 4, -1)
        e = np.exp(bins - bins.max(axis=2, keepdims=True))
        d = (e / e.sum(axis=2, keepdims=True) * np.arange(bins.shape[2])).sum(axis=2) * stride
        cx, cy = (keep % cells) * stride, (keep // cells) * stride
        for k, i in enumerate(keep):
            c = int(scores[i].argmax())
            box = (
                float(cx[k] - d[k, 0]),
                float(cy[k] - d[k, 1]),
                float(cx[k] + d[k, 2]),
                float(cy[k] + d[k, 3]),
            )
            out.append((float(scores[i, c]), c, box))
    return out


class ObjectDetector(_OnnxModel):
    """The manifest's stage-0 detector: people and vehicles in a whole frame."""

    def __init__(self, entry: ModelEntry, session: ort.InferenceSession) -> None:
        super().__init__(entry, session)
        info = entry.info
        self.strides = tuple(int(s) for s in info.get("strides", (8, 16, 32)))
        self.heads = [tuple(str(n) for n in pair) for pair in info["heads"]]
        self._outputs = [n for pair in self.heads for n in pair]

    def detect(self, image: Image) -> list[LabelledBox]:
        """People and vehicles in ``image`` (BGR), full-frame pixels, best first, after NMS."""
        spec = self.entry.input
        boxed, ratio = letterbox(image, self._width, spec.pad_value)
        arrays = self._run(normalise([boxed], spec))
        heads = [(arrays[2 * k][0], arrays[2 * k + 1][0]) for k in range(len(self.heads))]
        found = decode_nanodet(heads, self.strides, self._width, self.entry.min_score)
        h, w = image.shape[:2]
        boxes, scores, labels = [], [], []
        for score, cls, (x0, y0, x1, y1) in found:
            label = LABELS.get(self.entry.classes[cls]) if cls < len(self.entry.classes) else None
            if label is None:
                continue
            boxes.append([x0 / ratio, y0 / ratio, (x1 - x0) / ratio, (y1 - y0) / ratio])
            scores.append(score)
            labels.append(label)
        if not boxes:
            return []
        keep = cv2.dnn.NMSBoxes(boxes, scores, self.entry.min_score, self.entry.nms_iou)
        out = []
        for i in np.asarray(keep).reshape(-1).tolist():
            x, y, bw, bh = boxes[i]
            box = Box(round(x), round(y), round(bw), round(bh)).clipped(w, h)
            if box.area:
                out.append(LabelledBox(box, scores[i], labels[i]))
        return sorted(out, key=lambda b: -b.score)


def load_objects(
    entry: ModelEntry, manifest_dir: Path, options: RuntimeOptions | None = None
) -> ObjectDetector:
    """The stage-0 detector of ``entry``, its file checked like a stage model's."""
    if entry.decoding != "nanodet" or "heads" not in entry.info:
        raise ModelError(f"{entry.model_id}: not a people-and-vehicles detector (nanodet, heads)")
    return ObjectDetector(entry, open_session(entry, manifest_dir, options))


def best_match(
    box: Box, objects: Sequence[LabelledBox], match_iou: float = MATCH_IOU
) -> LabelledBox | None:
    """The best-scoring of ``objects`` that overlaps ``box`` by ``match_iou`` (IoU) or more."""
    return max(
        (o for o in objects if o.box.iou(box) >= match_iou), key=lambda o: o.score, default=None
    )


def group_in(box: Box, objects: Sequence[LabelledBox]) -> tuple[LabelledBox, ...]:
    """The ``objects`` centred inside ``box`` when they are :data:`GROUP` or more, else none."""
    inside = tuple(o for o in objects if box.holds_centre_of(o.box))
    return inside if len(inside) >= GROUP else ()


def relabel(
    boxes: Sequence[ScoredBox],
    objects: Sequence[LabelledBox],
    animal_threshold: float,
    object_threshold: float,
    match_iou: float = MATCH_IOU,
) -> tuple[tuple[ScoredBox, ...], tuple[LabelledBox, ...]]:
    """Split the large model's ``boxes`` into the animals and the people/vehicles.

    A box at or above ``animal_threshold`` that one of ``objects`` scoring at least
    ``object_threshold`` overlaps by ``match_iou`` (IoU) or more is that object, and one that
    holds a group of them (:func:`group_in`) is that group; it is dropped and the objects
    listed. Boxes below the threshold stay (they decide nothing)."""
    animals: list[ScoredBox] = []
    matched: dict[LabelledBox, None] = {}
    strong = [o for o in objects if o.score >= object_threshold]
    for scored in boxes:
        hits: tuple[LabelledBox, ...] = ()
        if scored.score >= animal_threshold:
            hit = best_match(scored.box, strong, match_iou)
            hits = (hit,) if hit is not None else group_in(scored.box, strong)
        if hits:
            matched.update(dict.fromkeys(hits))
        else:
            animals.append(scored)
    return tuple(animals), tuple(matched)


Detect = Callable[[Image], list[LabelledBox]]
"""People and vehicles in a frame (or a crop), in its pixels."""
Look = Callable[[Image, Box], list[LabelledBox]]
"""People and vehicles around a region of a frame, in the frame's pixels."""


def looking_at(detect: Detect, context: float) -> Look:
    """``detect`` on the area around a region, as the large model would see it
    (:func:`~wildcam.cascade.onnx_models.detector_area` with ``context``)."""

    def look(image: Image, region: Box) -> list[LabelledBox]:
        h, w = image.shape[:2]
        area = detector_area(region, context, w, h)
        found = detect(image[area.y : area.y + area.h, area.x : area.x + area.w])
        return [
            replace(o, box=Box(o.box.x + area.x, o.box.y + area.y, o.box.w, o.box.h))
            for o in found
        ]

    return look


def look_closer(
    image: Image,
    boxes: Sequence[Box],
    objects: Sequence[LabelledBox],
    look: Look,
    detector_side: int,
    match_iou: float = MATCH_IOU,
) -> list[LabelledBox]:
    """``objects`` (the detector's on the whole frame) and what ``look`` sees around each of
    ``boxes`` that the detector, its input ``detector_side`` px square, saw as a small object
    (:data:`SMALL_AREA`) there: a distant walker is a speck on the whole frame. An object seen
    twice (IoU ``match_iou`` with one of the same label) is listed once, with its better score."""
    scale = detector_side / max(image.shape[:2])
    found = list(objects)
    for box in dict.fromkeys(boxes):
        if box.area * scale * scale >= SMALL_AREA:
            continue
        for o in look(image, box):
            same = [f for f in found if f.label == o.label and f.box.iou(o.box) >= match_iou]
            if all(f.score < o.score for f in same):
                found = [f for f in found if f not in same] + [o]
    return found


@dataclass
class PeopleVehicles:
    """A detector stage with the people-and-vehicles check (a :class:`StageModel` like the one
    it wraps), which also checks the students' animals (:meth:`check_result`).

    ``detector`` is called only for a frame where the wrapped model found an animal box, once
    per frame however many regions were asked."""

    model: StageModel
    detector: Detect
    object_threshold: float
    match_iou: float = MATCH_IOU
    detector_id: str = ""
    """The manifest id of the people-and-vehicles detector (for provenance)."""
    look: Look | None = None
    """The detector on the area around a region (:func:`looking_at`); None: on the frame."""
    detector_side: int = 0
    """The detector's (square) input side, px: a detector stage's animal box smaller than
    :data:`SMALL_AREA` at that scale is looked at closer; 0: never."""

    def __post_init__(self) -> None:
        self.model_id = self.model.model_id
        self.stage = self.model.stage
        self.c_low = self.model.c_low
        self.c_high = self.model.c_high

    def predict(self, image: Image, regions: Sequence[Box]) -> list[RegionResult]:
        """The wrapped model's results, people and vehicles taken out of the animals."""
        results = self.model.predict(image, regions)
        if not any(b.score >= self.c_high for r in results for b in r.boxes):
            return results
        objects = self._closer(image, results, self.detector(image))
        return [self._checked(r, r.boxes, objects, self.c_high) for r in results]

    def _closer(
        self, image: Image, results: Sequence[RegionResult], objects: list[LabelledBox]
    ) -> list[LabelledBox]:
        """``objects`` (seen in the whole frame) and what the look sees closer around the
        animal boxes that no strong object matches (:func:`look_closer`)."""
        if self.look is None or self.detector_side <= 0:
            return objects
        strong = [o for o in objects if o.score >= self.object_threshold]
        boxes = [
            b.box
            for r in results
            for b in r.boxes
            if b.score >= self.c_high and best_match(b.box, strong, self.match_iou) is None
        ]
        return look_closer(image, boxes, objects, self.look, self.detector_side, self.match_iou)

    def check_result(self, image: Image, result: RegionResult, threshold: float) -> RegionResult:
        """``result``, an animal (at ``threshold``) of a model without the check, checked: the
        detector looks at the area around its region; its boxes, or for a classifier the
        region itself, are the animal boxes. A classifier's region as large as the frame (a
        still) locates nothing: nothing is taken from it, the people seen are only listed."""
        objects = self.look(image, result.region) if self.look else self.detector(image)
        h, w = image.shape[:2]
        located = result.region.clipped(w, h) != Box(0, 0, w, h)
        boxes = result.boxes or ((ScoredBox(result.region, result.score),) if located else ())
        return self._checked(result, boxes, objects, threshold)

    def _checked(
        self,
        result: RegionResult,
        boxes: Sequence[ScoredBox],
        objects: Sequence[LabelledBox],
        threshold: float,
    ) -> RegionResult:
        strong = self.object_threshold
        animals, matched = relabel(boxes, objects, threshold, strong, self.match_iou)
        people = tuple(
            o
            for o in objects
            if o.label == "person"
            and o.score >= strong
            and o.box.intersection(result.region) > 0
            and o not in matched
        )
        if not matched:
            return replace(result, others=people) if people else result
        score = max((b.score for b in animals), default=0.0)
        kept = animals if result.boxes else ()  # a classifier's region is no box of its own
        return replace(result, score=score, boxes=kept, others=matched + people)


def detector_ids(models: Mapping[int, StageModel]) -> list[str]:
    """The manifest ids of the people-and-vehicles detectors the stage models carry, each once
    (one detector checks them all, so at most one)."""
    stages = [models[s] for s in sorted(models)]
    checks = [m.detector_id for m in stages if isinstance(m, PeopleVehicles)]
    return list(dict.fromkeys(c for c in checks if c))


def model_ids(models: Mapping[int, StageModel]) -> list[str]:
    """The manifest ids of the stage models, cheapest first, then of the people-and-vehicles
    detector (once) when a stage carries the check: what decided a result (output provenance)."""
    return [models[s].model_id for s in sorted(models)] + detector_ids(models)


def blur_people(image: Image, others: Sequence[LabelledBox]) -> Image:
    """A copy of ``image`` with every person box pixelated beyond recognition (``image`` itself
    when there is none)."""
    people = [o.box for o in others if o.label == "person"]
    if not people:
        return image
    out = image.copy()
    h, w = out.shape[:2]
    for box in people:
        b = box.clipped(w, h)
        if b.area == 0:
            continue
        patch = out[b.y : b.y + b.h, b.x : b.x + b.w]
        small = cv2.resize(
            patch, (max(1, b.w // 16), max(1, b.h // 16)), interpolation=cv2.INTER_AREA
        )
        out[b.y : b.y + b.h, b.x : b.x + b.w] = cv2.resize(
            small, (b.w, b.h), interpolation=cv2.INTER_NEAREST
        )
    return out
