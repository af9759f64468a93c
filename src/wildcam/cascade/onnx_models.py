"""ONNX Runtime backends of the cascade's stage models (numpy + OpenCV + onnxruntime; no torch).

:func:`load_model` checks a model file against its manifest entry (sha256, then the session's
input and output names and shapes) and wraps it as a :class:`~wildcam.cascade.base.StageModel`:

* classifiers (stage 1 and 2) take a square crop around each region, with some context, resized
  to the input; stage 2 also answers a box (``cx, cy, w, h`` as fractions of the crop);
* the detector (stage 3) letterboxes the region (with context, and never zoomed in more than
  :data:`MAX_ZOOM` times the whole frame's scale) or the whole frame to its square input, never
  enlarging the pixels more than its entry's ``max_upscale`` (a small frame, a 90 x 60 clip,
  then fills only part of the input), pads right/bottom, decodes YOLOX rows, keeps the best
  boxes after NMS in full-frame pixels; the region's score is its best box score.

The preprocessing functions here are the ones training uses, so crops match at run time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from wildcam.cascade.base import RegionResult, ScoredBox
from wildcam.cascade.manifest import ANIMAL_DETECTOR, Dim, InputSpec, ModelEntry
from wildcam.cascade.scores import platt
from wildcam.errors import ConfigError, ModelError
from wildcam.types import Box, Image

__all__ = [
    "GRAPH_OPTIMIZATIONS",
    "OnnxClassifier",
    "OnnxDetector",
    "RuntimeOptions",
    "crop_square",
    "detector_area",
    "letterbox",
    "load_model",
    "normalise",
    "read_checked",
    "sha256_of",
    "square_box",
]

F32 = npt.NDArray[np.float32]

GRAPH_OPTIMIZATIONS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
MIN_CROP_PX = 8
MAX_BOXES = 20
MAX_ZOOM = 2.0
"""The detector sees a region at most this much larger than it sees the whole frame: it was
trained on whole camera-trap frames, and animals blown up far beyond that scale score lower."""


@dataclass(frozen=True)
class RuntimeOptions:
    """ONNX Runtime session settings.

    ``threads``: intra-op threads (0 = ONNX Runtime's default, one per core);
    ``graph_optimization``: one of :data:`GRAPH_OPTIMIZATIONS`; ``execution_provider``: an
    available provider name (``CPUExecutionProvider`` here). ``mem_arena`` keeps the CPU
    allocator's arena (freed tensors stay reserved for the next run, so the process holds its
    peak); ``mem_pattern`` preallocates one block planned for all of a run's tensors. Both are
    ONNX Runtime's defaults; off, a session holds only its weights between runs. Neither changes
    a result.
    """

    threads: int = 1
    graph_optimization: str = "all"
    execution_provider: str = "CPUExecutionProvider"
    mem_arena: bool = True
    mem_pattern: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.threads <= 64:
            raise ConfigError(f"onnx threads must be 0..64, got {self.threads}")
        if self.graph_optimization not in GRAPH_OPTIMIZATIONS:
            raise ConfigError(
                f"graph_optimization {self.graph_optimization!r} not in "
                f"{sorted(GRAPH_OPTIMIZATIONS)}"
            )
        available = ort.get_available_providers()
        if self.execution_provider not in available:
            raise ConfigError(
                f"execution provider {self.execution_provider!r} is not available "
                f"here; available: {available}"
            )

    def session_options(self) -> ort.SessionOptions:
        """The ``SessionOptions`` these settings stand for (sequential, quiet)."""
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = GRAPH_OPTIMIZATIONS[self.graph_optimization]
        so.enable_cpu_mem_arena = self.mem_arena
        so.enable_mem_pattern = self.mem_pattern
        so.log_severity_level = 3
        return so


# --- preprocessing (shared with training) ------------------------------------------------------


def square_box(region: Box, context: float) -> Box:
    """The square around ``region``'s centre: the longer side plus ``context`` of it each way."""
    side = max(round(max(region.w, region.h) * (1.0 + 2.0 * context)), MIN_CROP_PX)
    cx, cy = region.x + region.w / 2.0, region.y + region.h / 2.0
    return Box(round(cx - side / 2.0), round(cy - side / 2.0), side, side)


def _resize(image: Image, width: int, height: int) -> Image:
    """Area-averaged shrink (after dropping pixels down to 2x the target: a large region costs
    about what a small one does) or bilinear enlargement."""
    h, w = image.shape[:2]
    if width >= w and height >= h:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    step = min(w // (2 * width), h // (2 * height))
    if step > 1:
        image = image[::step, ::step]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def crop_square(
    image: Image, region: Box, size: int, context: float, pad_value: int = 0
) -> tuple[Image, Box]:
    """A ``size`` x ``size`` BGR crop of the square around ``region``, and that square.

    Only the part of the square inside the frame is resized; the rest is ``pad_value``.
    """
    sq = square_box(region, context)
    h, w = image.shape[:2]
    inside = sq.clipped(w, h)
    out = np.full((size, size, 3), pad_value, np.uint8)
    s = size / sq.w
    x0, y0 = round((inside.x - sq.x) * s), round((inside.y - sq.y) * s)
    x1, y1 = round((inside.x + inside.w - sq.x) * s), round((inside.y + inside.h - sq.y) * s)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = _resize(
            image[inside.y : inside.y + inside.h, inside.x : inside.x + inside.w], x1 - x0, y1 - y0
        )
    return out, sq


def letterbox(
    image: Image, size: int, pad_value: int = 0, max_upscale: float = 0.0
) -> tuple[Image, float]:
    """``image`` scaled to fit ``size`` x ``size`` (enlarged at most ``max_upscale`` times when
    that is above 0), padded right/bottom; and the scale used."""
    h, w = image.shape[:2]
    ratio = min(size / h, size / w)
    if max_upscale > 0.0:
        ratio = min(ratio, max_upscale)
    nw, nh = max(round(w * ratio), 1), max(round(h * ratio), 1)
    out = np.full((size, size, 3), pad_value, np.uint8)
    out[:nh, :nw] = _resize(image, nw, nh)
    return out, ratio


def normalise(images_bgr: Sequence[Image], spec: InputSpec) -> F32:
    """Stack BGR uint8 images into the model's NCHW float input (colour order, scale, mean/std)."""
    batch = np.stack(images_bgr).astype(np.float32)
    if spec.color == "RGB":
        batch = batch[..., ::-1]
    batch = batch * np.float32(spec.scale)
    mean = np.asarray(spec.mean, np.float32)
    std = np.asarray(spec.std, np.float32)
    if np.any(mean) or np.any(std != 1.0):
        batch = (batch - mean) / std
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def _sigmoid(x: F32) -> F32:
    return (1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))).astype(np.float32)


# --- models ------------------------------------------------------------------------------------


class _OnnxModel:
    """A checked session and the entry it was built from."""

    def __init__(self, entry: ModelEntry, session: ort.InferenceSession) -> None:
        self.entry = entry
        self.model_id = entry.model_id
        self.stage = entry.stage
        self.c_low = entry.c_low
        self.c_high = entry.c_high
        self.c_high_night = entry.c_high_night
        self.tiles = entry.tiles
        self._session = session
        self._input = entry.input.name
        self._outputs = [o.name for o in entry.outputs]
        self._height, self._width = entry.input.size
        batch = entry.input.shape[0]
        self._max_batch = 64 if isinstance(batch, str) else int(batch)

    def _calibrated(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Raw scores mapped by the entry's Platt scaling (the probability the band is in)."""
        return platt(scores, *self.entry.calibration)

    def _run(self, batch: F32) -> list[np.ndarray]:
        try:
            return list(self._session.run(self._outputs, {self._input: batch}))
        except Exception as err:  # onnxruntime raises its own (non-exported) exception types
            raise ModelError(f"{self.model_id}: inference failed: {err}") from err


class OnnxClassifier(_OnnxModel):
    """Stage 1/2: presence score per region crop; with ``sigmoid_logit_box`` also a box."""

    def predict(self, image: Image, regions: Sequence[Box]) -> list[RegionResult]:
        """Score each region of ``image`` (BGR)."""
        spec = self.entry.input
        results: list[RegionResult] = []
        for start in range(0, len(regions), self._max_batch):
            chunk = regions[start : start + self._max_batch]
            crops, squares = zip(
                *(crop_square(image, r, self._width, spec.context, spec.pad_value) for r in chunk),
                strict=True,
            )
            outs = self._run(normalise(crops, spec))
            scores = self._calibrated(_sigmoid(outs[0].reshape(len(chunk), -1)[:, 0]))
            for i, region in enumerate(chunk):
                score = float(scores[i])
                boxes: tuple[ScoredBox, ...] = ()
                if self.entry.decoding == "sigmoid_logit_box":
                    boxes = (ScoredBox(_box_in(squares[i], outs[1][i], image), score),)
                results.append(RegionResult(region, score, boxes))
        return results


def detector_area(region: Box, context: float, w: int, h: int) -> Box:
    """What the detector looks at for ``region``: the region plus context, grown (about its
    centre, kept in the frame) to at least 1 / :data:`MAX_ZOOM` of the frame's longer side."""
    region = region.clipped(w, h)
    if (region.w, region.h) == (w, h):
        return region
    m = max(region.w, region.h) * context
    side = max(w, h) / MAX_ZOOM
    aw, ah = min(max(region.w + 2 * m, side), w), min(max(region.h + 2 * m, side), h)
    cx, cy = region.x + region.w / 2, region.y + region.h / 2
    x0 = min(max(cx - aw / 2, 0.0), w - aw)
    y0 = min(max(cy - ah / 2, 0.0), h - ah)
    return Box(round(x0), round(y0), round(aw), round(ah)).clipped(w, h)


def _box_in(square: Box, cxcywh: np.ndarray, image: Image) -> Box:
    """A box given as fractions ``cx, cy, w, h`` of ``square``, in frame pixels, clipped."""
    cx, cy, bw, bh = (float(v) for v in np.clip(cxcywh, 0.0, 1.0))
    x0 = square.x + (cx - bw / 2) * square.w
    y0 = square.y + (cy - bh / 2) * square.h
    box = Box(round(x0), round(y0), max(round(bw * square.w), 1), max(round(bh * square.h), 1))
    return box.clipped(image.shape[1], image.shape[0])


class OnnxDetector(_OnnxModel):
    """Stage 3: YOLOX on each region (letterboxed), boxes back in full-frame pixels after NMS."""

    def predict(self, image: Image, regions: Sequence[Box]) -> list[RegionResult]:
        """Detect in each region of ``image`` (BGR); score = best box score."""
        spec = self.entry.input
        h, w = image.shape[:2]
        results = []
        for region in regions:
            area = detector_area(region, spec.context, w, h)
            if area.w < MIN_CROP_PX or area.h < MIN_CROP_PX:
                results.append(RegionResult(region, 0.0))
                continue
            patch = image[area.y : area.y + area.h, area.x : area.x + area.w]
            boxed, ratio = letterbox(patch, self._width, spec.pad_value, spec.max_upscale)
            rows = self._run(normalise([boxed], spec))[0][0]
            boxes = self._decode(rows, ratio, area, w, h)
            best = (
                boxes[0].score
                if boxes
                else float(self._calibrated((rows[:, 4] * rows[:, 5]).max(initial=0.0)))
            )
            sure = float(self.entry.info.get("sure_side_px", 0)) / ratio
            results.append(RegionResult(region, best, tuple(boxes), sure_side=sure))
        return results

    def _decode(
        self, rows: np.ndarray, ratio: float, area: Box, w: int, h: int
    ) -> list[ScoredBox]:
        scores = rows[:, 4] * rows[:, 5:].max(axis=1)
        keep = scores >= self.entry.min_score
        if not np.any(keep):
            return []
        rows, scores = rows[keep], scores[keep]
        xywh = np.empty((len(rows), 4), np.float32)
        xywh[:, 0] = (rows[:, 0] - rows[:, 2] / 2) / ratio + area.x
        xywh[:, 1] = (rows[:, 1] - rows[:, 3] / 2) / ratio + area.y
        xywh[:, 2] = rows[:, 2] / ratio
        xywh[:, 3] = rows[:, 3] / ratio
        idx = cv2.dnn.NMSBoxes(
            xywh.tolist(),
            scores.tolist(),
            self.entry.min_score,
            self.entry.nms_iou,
            top_k=MAX_BOXES,
        )
        out = []
        calibrated = self._calibrated(scores)
        for i in sorted(np.asarray(idx).reshape(-1).tolist(), key=lambda k: -scores[k]):
            x, y, bw, bh = xywh[i]
            box = Box(round(x), round(y), round(bw), round(bh)).clipped(w, h)
            if box.area:
                out.append(ScoredBox(box, float(calibrated[i])))
        return out


# --- loading -----------------------------------------------------------------------------------


def sha256_of(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _same_shape(actual: Sequence[int | str | None], expected: Sequence[Dim]) -> bool:
    if len(actual) != len(expected):
        return False
    for a, e in zip(actual, expected, strict=True):
        if isinstance(e, str):
            if isinstance(a, int):
                return False
        elif a != e:
            return False
    return True


def _check_io(entry: ModelEntry, session: ort.InferenceSession, path: Path) -> None:
    problems = []
    inputs = session.get_inputs()
    if [i.name for i in inputs] != [entry.input.name]:
        problems.append(f"inputs {[i.name for i in inputs]} != [{entry.input.name!r}]")
    elif not _same_shape(inputs[0].shape, entry.input.shape):
        problems.append(f"input shape {inputs[0].shape} != {list(entry.input.shape)}")
    elif inputs[0].type != "tensor(float)":
        problems.append(f"input type {inputs[0].type} is not tensor(float)")
    outputs = {o.name: o.shape for o in session.get_outputs()}
    for spec in entry.outputs:
        if spec.name not in outputs:
            problems.append(f"output {spec.name!r} missing (has {sorted(outputs)})")
        elif not _same_shape(outputs[spec.name], spec.shape):
            problems.append(
                f"output {spec.name!r} shape {outputs[spec.name]} != {list(spec.shape)}"
            )
    if problems:
        raise ModelError(
            f"{path} does not match manifest entry {entry.model_id!r}: " + "; ".join(problems)
        )


def read_checked(entry: ModelEntry, manifest_dir: Path) -> bytes:
    """The bytes of ``entry``'s file, after checking their sha256; :class:`ModelError` if bad."""
    path = Path(manifest_dir) / entry.file
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelError(f"cannot read model file {path}: {err}") from err
    digest = sha256_of(data)
    if digest != entry.sha256:
        raise ModelError(
            f"{path}: sha256 {digest[:16]}... does not match the manifest's "
            f"{entry.sha256[:16]}... for {entry.model_id!r} (corrupt, truncated or "
            "replaced file)"
        )
    return data


def load_model(
    entry: ModelEntry, manifest_dir: Path, options: RuntimeOptions | None = None
) -> OnnxClassifier | OnnxDetector:
    """Load stage model ``entry`` from ``manifest_dir`` after checking it; :class:`ModelError`
    if bad (the stage-0 detector loads with :func:`wildcam.cascade.objects.load_objects`)."""
    if entry.decoding == "nanodet":
        raise ModelError(
            f"{entry.model_id}: the people-and-vehicles detector is not a stage model"
        )
    session = open_session(entry, manifest_dir, options)
    if entry.decoding == ANIMAL_DETECTOR:
        return OnnxDetector(entry, session)
    return OnnxClassifier(entry, session)


def open_session(
    entry: ModelEntry, manifest_dir: Path, options: RuntimeOptions | None = None
) -> ort.InferenceSession:
    """An ONNX Runtime session of ``entry``'s file, after checking it; :class:`ModelError` if bad.

    The bytes read are the bytes hashed and the bytes given to ONNX Runtime, so a file swapped
    between check and load cannot slip through.
    """
    options = options or RuntimeOptions()
    path = Path(manifest_dir) / entry.file
    data = read_checked(entry, manifest_dir)
    try:
        session = ort.InferenceSession(
            data, sess_options=options.session_options(), providers=[options.execution_provider]
        )
    except Exception as err:  # onnxruntime's Fail/InvalidGraph/... are not importable types
        raise ModelError(f"{path}: ONNX Runtime cannot load it: {err}") from err
    _check_io(entry, session, path)
    return session
