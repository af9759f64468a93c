"""Evaluate the cascade on labelled still images: presence accuracy, cost, and box AP.

Labels come from a CSV (``path,animal`` with 1/0, ``path`` relative to the CSV; optional box
columns ``x,y,w,h``, one row per box) or a COCO JSON (an image with an annotation holds an
animal; its boxes are the ground truth). Each image is one motion event whose only region is
the whole frame.

Every stage model scores each image once (timed: wall clock and thread CPU time). The rows of
the report are then decided from those scores by the same :class:`~wildcam.cascade.runner.Cascade`
the node runs: each stage alone, and the cascade capped at each ``max_stage``. A row's latency
and energy per image are the sums over the stages that row called. Unreadable or corrupt
images, and images a model fails on, are counted and listed, never fatal.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from wildcam.cascade.base import RegionResult, ResultCheck, StageModel
from wildcam.cascade.config import CascadeConfig
from wildcam.cascade.runner import STAGE_NAMES, Cascade, FrameDecision
from wildcam.cascade.views import TileBand, predict_tiled, predict_views, student_tiles
from wildcam.ecology.megadetector import MIN_CONF, MdImage, frame_detections
from wildcam.errors import InputError, ModelError
from wildcam.types import Box, Image

__all__ = [
    "CoreWatts",
    "EvalReport",
    "LabelledImage",
    "Row",
    "average_precision",
    "default_energy",
    "evaluate",
    "load_coco",
    "load_csv",
]

EnergyFn = Callable[[str, float], float]
"""``joules(stage_name, cpu_seconds)``: modelled energy of a stage's CPU time."""


def default_energy() -> CoreWatts:
    """Busy-core watts of the default device profile (a Pi 4B's Cortex-A72 core; its source
    is in the profile's YAML) times this host's CPU seconds, without the device slowdown."""
    from wildcam.power.profile import DEFAULT_PROFILE, load_profile

    return CoreWatts(load_profile(DEFAULT_PROFILE).active_core_w)


@dataclass(frozen=True)
class CoreWatts:
    """The simplest energy model: busy-core watts times CPU seconds (times a device slowdown)."""

    watts_per_core: float
    slowdown: float = 1.0

    def __call__(self, stage: str, cpu_seconds: float) -> float:
        """Joules of ``cpu_seconds`` of this host's CPU time on the modelled device."""
        return cpu_seconds * self.slowdown * self.watts_per_core


@dataclass(frozen=True)
class LabelledImage:
    """One evaluation image: its file, whether an animal is present, and boxes if known.

    ``boxes`` is ``None`` when the label has no boxes (the image takes no part in box AP).
    """

    path: Path
    animal: bool
    boxes: tuple[Box, ...] | None = None


def _flag(value: str, where: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise InputError(f"{where}: animal must be 1/0, got {value!r}")


def load_csv(path: Path, images_dir: Path | None = None) -> list[LabelledImage]:
    """Read ``path,animal[,x,y,w,h]`` rows; several rows of one path add boxes.

    Paths are relative to ``images_dir`` (default: the CSV's folder). Raises
    :class:`InputError` for a missing file, missing columns or bad values.
    """
    base = images_dir or path.parent
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"cannot read labels {path}: {err}") from err
    if rows and not {"path", "animal"} <= set(rows[0]):
        raise InputError(f"{path}: needs columns path,animal; has {sorted(rows[0])}")
    has_boxes = bool(rows) and {"x", "y", "w", "h"} <= set(rows[0])
    items: dict[str, LabelledImage] = {}
    for number, row in enumerate(rows, start=2):
        where = f"{path}:{number}"
        name = (row.get("path") or "").strip()
        if not name:
            raise InputError(f"{where}: empty path")
        animal = _flag(row.get("animal") or "", where)
        box: tuple[Box, ...] | None = None
        if has_boxes:
            box = ()
            if all((row.get(k) or "").strip() for k in "xywh"):
                try:
                    box = (Box(*(round(float(row[k])) for k in "xywh")),)
                except ValueError as err:
                    raise InputError(f"{where}: bad box {row}") from err
        old = items.get(name)
        if old is None:
            items[name] = LabelledImage(base / name, animal, box)
        else:
            boxes = None if box is None else (old.boxes or ()) + box
            items[name] = LabelledImage(old.path, old.animal or animal, boxes)
    return list(items.values())


def load_coco(path: Path, images_dir: Path | None = None) -> list[LabelledImage]:
    """Read a COCO detection JSON; every annotated image holds an animal, with its boxes.

    ``file_name`` is relative to ``images_dir`` (default: the JSON's folder). Images without
    annotations are empty frames (their boxes: none).
    """
    base = images_dir or path.parent
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        images = {int(i["id"]): str(i["file_name"]) for i in data["images"]}
        boxes: dict[int, list[Box]] = {i: [] for i in images}
        for ann in data.get("annotations", []):
            x, y, w, h = (float(v) for v in ann["bbox"])
            boxes[int(ann["image_id"])].append(Box(round(x), round(y), round(w), round(h)))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"cannot read COCO annotations {path}: {err}") from err
    return [
        LabelledImage(base / name, bool(boxes[i]), tuple(boxes[i])) for i, name in images.items()
    ]


def read_image(path: Path) -> Image | None:
    """The image as BGR uint8, or ``None`` when it is missing, unreadable or corrupt."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        return None
    return np.ascontiguousarray(image)


@dataclass(frozen=True)
class _Call:
    result: RegionResult
    wall_s: float
    cpu_s: float
    tile: RegionResult | None = None


@dataclass
class _Replay:
    """A stage model that answers with a stored result (rows share one real call per stage)."""

    model_id: str
    stage: int
    c_low: float
    c_high: float
    c_high_night: float | None = None
    tiles: TileBand | None = None
    answer: RegionResult | None = None
    tile_answer: RegionResult | None = None
    """The best tile's stored result: the answer to every view after the first (the frame)."""

    def predict(self, image: Image, regions: Sequence[Box]) -> list[RegionResult]:
        assert self.answer is not None
        return [self.answer, *[self.tile_answer or self.answer] * (len(regions) - 1)]


@dataclass
class _CheckedReplay(_Replay):
    """A stored stage that carries the people-and-vehicles check itself (a detector stage the
    loader wrapped: its stored answers are checked), so the runner lends it none."""

    check: ResultCheck | None = None

    def check_result(self, image: Image, result: RegionResult, threshold: float) -> RegionResult:
        assert self.check is not None
        return self.check.check_result(image, result, threshold)


@dataclass
class _CheckReplay:
    """The people-and-vehicles check a detector stage carries, lent to every row's students:
    each answer is worked out once per image (the rows ask about the same whole frame), and
    each row that asks pays its time (:attr:`asked`)."""

    check: ResultCheck
    answers: dict[tuple[RegionResult, float], _Call] = field(default_factory=dict)
    asked: list[_Call] = field(default_factory=list)
    """The answers the current row asked for."""

    def check_result(self, image: Image, result: RegionResult, threshold: float) -> RegionResult:
        key = (result, threshold)
        if key not in self.answers:
            wall, cpu = time.perf_counter(), time.thread_time()
            checked = self.check.check_result(image, result, threshold)
            self.answers[key] = _Call(
                checked, time.perf_counter() - wall, time.thread_time() - cpu
            )
        self.asked.append(self.answers[key])
        return self.answers[key].result


@dataclass
class Row:
    """Figures of one way of deciding (a stage alone or the cascade up to a stage)."""

    name: str
    stages: tuple[int, ...]
    max_stage: int
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    reached: dict[int, int] = field(default_factory=dict)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    joules: float = 0.0
    ap50: float | None = None

    @property
    def images(self) -> int:
        """Images decided."""
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was called an animal."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when there was no animal to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def fraction_reaching(self, stage: int) -> float:
        """Share of images on which ``stage`` was called."""
        return self.reached.get(stage, 0) / self.images if self.images else 0.0

    def as_dict(self) -> dict[str, object]:
        """The row's figures, means per image."""
        n = max(self.images, 1)
        return {
            "name": self.name,
            "stages": list(self.stages),
            "max_stage": self.max_stage,
            "images": self.images,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "fraction_reaching": {str(s): self.fraction_reaching(s) for s in (1, 2, 3)},
            "latency_ms": 1000 * self.wall_s / n,
            "cpu_ms": 1000 * self.cpu_s / n,
            "energy_mj": 1000 * self.joules / n,
            "ap50": self.ap50,
        }


@dataclass
class EvalReport:
    """Everything one evaluation measured."""

    rows: list[Row]
    images: int
    animals: int
    unreadable: list[str]
    config: dict[str, object]
    models: dict[int, str]
    per_image: list[MdImage] = field(default_factory=list)
    """The whole cascade's boxes per image (MegaDetector batch-output entries; unreadable
    images as failures), file names as the labels give them."""
    scores: list[tuple[bool, dict[int, float]]] = field(default_factory=list)
    """Each decided image's truth and every stage's score on it (for calibration figures)."""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "images": self.images,
            "animals": self.animals,
            "empty": self.images - self.animals,
            "unreadable": len(self.unreadable),
            "unreadable_files": self.unreadable,
            "models": {str(k): v for k, v in self.models.items()},
            "config": self.config,
            "rows": [r.as_dict() for r in self.rows],
        }

    def row(self, name: str) -> Row:
        """The row called ``name``."""
        return next(r for r in self.rows if r.name == name)


def _rows(stages: Sequence[int], max_stage: int) -> list[Row]:
    rows = [Row(f"stage{s} alone", (s,), s) for s in stages]
    allowed = [s for s in stages if s <= max_stage]
    for cap in allowed[1:]:
        rows.append(
            Row(
                f"cascade <= {cap}" if cap < allowed[-1] else "cascade",
                tuple(s for s in allowed if s <= cap),
                cap,
            )
        )
    if len(allowed) == 1:
        rows.append(Row("cascade", tuple(allowed), allowed[0]))
    return rows


def evaluate(
    items: Iterable[LabelledImage],
    models: Mapping[int, StageModel],
    config: CascadeConfig | None = None,
    energy: EnergyFn | None = None,
) -> EvalReport:
    """Score every image with every stage; decide each row; count, time and model energy."""
    config = config or CascadeConfig()
    energy = energy or default_energy()
    stages = sorted(models)
    rows = _rows(stages, config.max_stage)
    replays = {s: _replay_of(s, m) for s, m in models.items()}
    check = next((m for m in models.values() if isinstance(m, ResultCheck)), None)
    lent = _CheckReplay(check) if check is not None else None
    cascades = [
        Cascade({s: replays[s] for s in row.stages}, _capped(config, row.max_stage), check=lent)
        for row in rows
    ]
    predictions: dict[str, dict[int, list[tuple[float, Box]]]] = {r.name: {} for r in rows}
    truths: list[tuple[int, tuple[Box, ...]]] = []
    unreadable: list[str] = []
    per_image: list[MdImage] = []
    scores: list[tuple[bool, dict[int, float]]] = []
    count = animals = 0
    for item in items:
        image = read_image(item.path)
        if image is None:
            unreadable.append(str(item.path))
            per_image.append(MdImage(str(item.path), failure="Failure image access"))
            continue
        whole = Box(0, 0, int(image.shape[1]), int(image.shape[0]))
        try:
            calls = {s: _timed(m, image, whole, config) for s, m in models.items()}
        except ModelError as err:
            unreadable.append(f"{item.path} ({err})")
            per_image.append(MdImage(str(item.path), failure=f"Failure inference: {err}"))
            continue
        count += 1
        animals += item.animal
        scores.append((item.animal, {s: call.result.score for s, call in calls.items()}))
        for stage, call in calls.items():
            replays[stage].answer, replays[stage].tile_answer = call.result, call.tile
        if item.boxes is not None:
            truths.append((count - 1, item.boxes))
        if lent is not None:
            lent.answers.clear()
        for row, cascade in zip(rows, cascades, strict=True):
            decision = cascade.run(image, [whole])
            _score(row, decision, item.animal, calls, energy, lent.asked if lent else [])
            if lent is not None:
                lent.asked.clear()
            if row is rows[-1]:  # the whole cascade
                per_image.append(
                    MdImage(
                        str(item.path),
                        tuple(frame_detections(decision, whole.w, whole.h, MIN_CONF)),
                    )
                )
            if item.boxes is not None:
                predictions[row.name][count - 1] = [
                    (b.score, b.box) for b, _ in decision.detections()
                ]
    if truths:
        for row in rows:
            row.ap50 = average_precision(predictions[row.name], truths)
    return EvalReport(
        rows,
        count,
        animals,
        unreadable,
        _config_dict(config),
        {s: m.model_id for s, m in models.items()},
        per_image,
        scores,
    )


def _replay_of(stage: int, model: StageModel) -> _Replay:
    """The stored stand-in of ``model`` (one that carries the check when it does)."""
    args = (model.model_id, stage, model.c_low, model.c_high)
    views = (getattr(model, "c_high_night", None), getattr(model, "tiles", None))
    if isinstance(model, ResultCheck):
        return _CheckedReplay(*args, *views, check=model)
    return _Replay(*args, *views)


def _capped(config: CascadeConfig, cap: int) -> CascadeConfig:
    # the stored stage-3 answers already hold its extra views (see _timed)
    return dataclasses.replace(config, max_stage=cap, stage3_flip=False, stage3_tiles=False)


def _timed(model: StageModel, image: Image, whole: Box, config: CascadeConfig) -> _Call:
    wall, cpu = time.perf_counter(), time.thread_time()
    tiles = student_tiles(model, config.student_tiles)
    tile = None
    if model.stage == 3:
        result = predict_views(model, image, [whole], config.stage3_flip, config.stage3_tiles)[0]
    elif tiles is not None and tiles.applies(whole, whole.w, whole.h):
        result, tile = predict_tiled(model, image, whole, tiles)
    else:
        result = model.predict(image, [whole])[0]
    return _Call(result, time.perf_counter() - wall, time.thread_time() - cpu, tile)


def _score(
    row: Row,
    decision: FrameDecision,
    truth: bool,
    calls: Mapping[int, _Call],
    energy: EnergyFn,
    checks: Sequence[_Call] = (),
) -> None:
    """Count ``decision`` in ``row`` and charge it the stage calls it ran and the
    people-and-vehicles ``checks`` its students asked for (in the deciding stage's meter)."""
    said = decision.animal
    row.tp += said and truth
    row.fp += said and not truth
    row.fn += truth and not said
    row.tn += not said and not truth
    for stage in decision.stages_run:
        row.reached[stage] = row.reached.get(stage, 0) + 1
    deciding = max((r.stage for r in decision.regions), default=1)
    charged = [(s, calls[s]) for s in decision.stages_run] + [(deciding, c) for c in checks]
    for stage, call in charged:
        row.wall_s += call.wall_s
        row.cpu_s += call.cpu_s
        row.joules += energy(STAGE_NAMES[stage], call.cpu_s)


def average_precision(
    predictions: Mapping[int, Sequence[tuple[float, Box]]],
    truths: Sequence[tuple[int, Sequence[Box]]],
    iou: float = 0.5,
) -> float:
    """Class-agnostic box AP at ``iou`` (all-point interpolated, as PASCAL VOC 2010+).

    ``predictions`` maps an image index to ``(score, box)`` pairs, ``truths`` lists
    ``(image index, boxes)`` of the images that take part; predictions on other images are
    ignored. Each ground-truth box matches at most one prediction, best scores first.
    """
    gt = {i: list(boxes) for i, boxes in truths}
    total = sum(len(b) for b in gt.values())
    if total == 0:
        return math.nan
    ranked = sorted(
        ((s, i, b) for i, preds in predictions.items() if i in gt for s, b in preds),
        key=lambda t: -t[0],
    )
    used = {i: [False] * len(b) for i, b in gt.items()}
    hits = []
    for _, image, box in ranked:
        best, best_j = iou, -1
        for j, truth in enumerate(gt[image]):
            overlap = box.iou(truth)
            if not used[image][j] and overlap >= best:
                best, best_j = overlap, j
        if best_j >= 0:
            used[image][best_j] = True
        hits.append(best_j >= 0)
    tp = np.cumsum(hits, dtype=float)
    precision = tp / np.arange(1, len(hits) + 1) if hits else np.zeros(0)
    recall = tp / total
    ap, previous_recall = 0.0, 0.0
    for k in range(len(hits)):
        if hits[k]:
            ap += (recall[k] - previous_recall) * float(precision[k:].max())
            previous_recall = recall[k]
    return ap


def _config_dict(config: CascadeConfig) -> dict[str, object]:
    keys = (
        "max_stage",
        "decision_threshold",
        "stage3_input",
        "stage3_flip",
        "stage3_tiles",
        "student_tiles",
    )
    return {k: getattr(config, k) for k in keys}
