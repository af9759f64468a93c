"""The model manifest: which ONNX files the cascade may load, and how to feed and read each one.

``models/manifest.json`` (written by ``make models``) looks like::

    {"format": "wildcam-models", "version": 1,
     "defaults": {"1": "tiny_int8", "2": "medium_int8", "3": "large_int8"},
     "models": [{"id": "tiny_int8", "file": "tiny_int8.onnx", "sha256": "...", "stage": 1,
                 "kind": "classifier", "precision": "int8",
                 "input": {"name": "image", "shape": ["N", 3, 96, 96], "layout": "NCHW",
                           "color": "RGB", "scale": 0.00392156862745098,
                           "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
                           "resize": "square_crop", "context": 0.15, "pad_value": 0},
                 "outputs": [{"name": "logit", "shape": ["N", 1]}],
                 "decoding": "sigmoid_logit", "classes": ["animal"],
                 "c_low": 0.1, "c_high": 0.9, ...}, ...]}

Every field the runtime needs is parsed into a frozen :class:`ModelEntry`; everything else (the
model card's figures: parameters, MACs, accuracy, latency, provenance) stays in ``info``.
Only this file and :mod:`wildcam.cascade.onnx_models` are needed at run time (no torch).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wildcam.cascade.base import STAGES, check_band
from wildcam.cascade.views import TileBand
from wildcam.errors import ConfigError, ModelError
from wildcam.rosenv import share_dir

__all__ = [
    "ANIMAL_DETECTOR",
    "DECODINGS",
    "FORMAT",
    "OBJECTS_STAGE",
    "RESIZES",
    "InputSpec",
    "Manifest",
    "ModelEntry",
    "OutputSpec",
    "default_manifest_path",
]

FORMAT = "wildcam-models"
VERSION = 1
ANIMAL_DETECTOR = "yolox"
"""The decoding of the animal detectors (the large model and the coarse look): YOLOX rows."""
DECODINGS = ("sigmoid_logit", "sigmoid_logit_box", ANIMAL_DETECTOR, "nanodet")
"""How outputs become scores: a presence logit; a logit plus a box ``cx,cy,w,h`` (0..1 of the
crop); YOLOX rows ``cx,cy,w,h,obj,cls`` in input pixels; NanoDet heads (class scores and side
distance distributions per grid point, :func:`wildcam.cascade.objects.decode_nanodet`)."""
OBJECTS_STAGE = 0
"""The stage number of the people-and-vehicles detector (:mod:`wildcam.cascade.objects`): not a
cascade stage; it checks stage 3's animals. Its ``c_high`` is its person/vehicle threshold."""
RESIZES = ("square_crop", "letterbox")
"""How a region becomes the input: a square crop around it (plus context) resized to the input;
the region (plus context) letterboxed to the input, padded right/bottom."""

Dim = int | str
"""A tensor dimension: a size, or a symbolic name for a dynamic one (the batch)."""


@dataclass(frozen=True)
class InputSpec:
    """The model's single input and the preprocessing that produces it."""

    name: str
    shape: tuple[Dim, ...]
    layout: str = "NCHW"
    color: str = "RGB"
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    resize: str = "square_crop"
    context: float = 0.0
    pad_value: int = 0
    max_upscale: float = 0.0
    """A letterboxing detector never enlarges the image more than this (its training's
    largest scale: blur beyond it is outside what it learnt); 0: no limit."""

    @property
    def size(self) -> tuple[int, int]:
        """Input ``(height, width)`` in pixels."""
        h, w = self.shape[2], self.shape[3]
        if not isinstance(h, int) or not isinstance(w, int):
            raise ModelError(
                f"input {self.name!r} needs a fixed height and width, got {self.shape}"
            )
        return h, w


@dataclass(frozen=True)
class OutputSpec:
    """One model output: its name and shape (symbolic dims as names)."""

    name: str
    shape: tuple[Dim, ...]


@dataclass(frozen=True)
class ModelEntry:
    """One model of the manifest, as the runtime needs it."""

    model_id: str
    file: str
    sha256: str
    stage: int
    kind: str
    precision: str
    input: InputSpec
    outputs: tuple[OutputSpec, ...]
    decoding: str
    classes: tuple[str, ...]
    c_low: float
    c_high: float
    nms_iou: float = 0.45
    min_score: float = 0.05
    calibration: tuple[float, float] = (1.0, 0.0)
    """Platt scaling ``(a, b)`` of the raw score (:func:`wildcam.cascade.scores.platt`), fitted
    on real frames by ``wildcam.cascade.calibrate``; ``(1, 0)`` leaves it raw. The band is in
    calibrated scores."""
    c_high_night: float | None = None
    """A student's ``c_high`` on grey (infrared night) frames, chosen on real night frames by
    ``wildcam.cascade.calibrate``; ``None``: the same band day and night."""
    tiles: TileBand | None = None
    """A student's tile grid for whole frames and its band (the cascade's ``student_tiles``),
    chosen on real frames by ``wildcam.cascade.calibrate``; ``None``: no tiles. The record is
    ``"tiles": {"layout": [cols, rows], "c_low": .., "c_high": ..}``."""
    info: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelEntry:
        """Parse one ``models[]`` record; :class:`ModelError` names what is wrong."""
        mid = data.get("id", "?")
        try:
            inp = data["input"]
            spec = InputSpec(
                name=str(inp["name"]),
                shape=_shape(inp["shape"]),
                layout=str(inp.get("layout", "NCHW")),
                color=str(inp.get("color", "RGB")),
                scale=float(inp.get("scale", 1.0)),
                mean=_triple(inp.get("mean", (0.0, 0.0, 0.0))),
                std=_triple(inp.get("std", (1.0, 1.0, 1.0))),
                resize=str(inp.get("resize", "square_crop")),
                context=float(inp.get("context", 0.0)),
                pad_value=int(inp.get("pad_value", 0)),
                max_upscale=float(inp.get("max_upscale", 0.0)),
            )
            entry = cls(
                model_id=str(data["id"]),
                file=str(data["file"]),
                sha256=str(data["sha256"]),
                stage=int(data["stage"]),
                kind=str(data["kind"]),
                precision=str(data.get("precision", "fp32")),
                input=spec,
                outputs=tuple(
                    OutputSpec(str(o["name"]), _shape(o["shape"])) for o in data["outputs"]
                ),
                decoding=str(data["decoding"]),
                classes=tuple(str(c) for c in data.get("classes", ("animal",))),
                c_low=float(data["c_low"]),
                c_high=float(data["c_high"]),
                nms_iou=float(data.get("nms_iou", 0.45)),
                min_score=float(data.get("min_score", 0.05)),
                calibration=_platt(data.get("calibration")),
                c_high_night=(
                    None if data.get("c_high_night") is None else float(data["c_high_night"])
                ),
                tiles=_tiles(data.get("tiles"), spec),
                info={k: v for k, v in data.items() if k not in _PARSED},
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ModelError(f"manifest entry {mid!r} is malformed: {err!r}") from err
        entry.validate()
        return entry

    def validate(self) -> None:
        """Raise :class:`ModelError` when the entry is inconsistent."""
        problems = []
        if self.stage not in STAGES and self.stage != OBJECTS_STAGE:
            problems.append(f"stage {self.stage} not in {STAGES} or {OBJECTS_STAGE}")
        if (self.stage == OBJECTS_STAGE) != (self.decoding == "nanodet"):
            problems.append(f"stage {OBJECTS_STAGE} and only it uses the nanodet decoding")
        if self.decoding not in DECODINGS:
            problems.append(f"decoding {self.decoding!r} not in {DECODINGS}")
        if self.input.resize not in RESIZES:
            problems.append(f"input resize {self.input.resize!r} not in {RESIZES}")
        if self.input.layout != "NCHW" or self.input.color not in ("RGB", "BGR"):
            problems.append("input must be NCHW, RGB or BGR")
        if not self.input.max_upscale >= 0.0:
            problems.append(f"input max_upscale {self.input.max_upscale} is below 0")
        if len(self.input.shape) != 4 or self.input.shape[1] != 3:
            problems.append(f"input shape {self.input.shape} is not [N, 3, H, W]")
        if len(self.sha256) != 64:
            problems.append("sha256 is not 64 hex digits")
        if Path(self.file).name != self.file:
            problems.append(f"file {self.file!r} must be a plain name beside the manifest")
        try:
            check_band(self.c_low, self.c_high)
            if self.c_high_night is not None:
                check_band(self.c_low, self.c_high_night)
            if self.tiles is not None:
                check_band(self.tiles.c_low, self.tiles.c_high)
        except ConfigError as err:
            problems.append(str(err))
        if problems:
            raise ModelError(f"manifest entry {self.model_id!r}: " + "; ".join(problems))


_PARSED = {
    "id",
    "file",
    "sha256",
    "stage",
    "kind",
    "precision",
    "input",
    "outputs",
    "decoding",
    "classes",
    "c_low",
    "c_high",
    "nms_iou",
    "min_score",
    "c_high_night",
    "tiles",
}


def _tiles(record: Any, spec: InputSpec) -> TileBand | None:
    if record is None:
        return None
    cols, rows = (int(v) for v in record["layout"])
    if not (1 <= cols <= 8 and 1 <= rows <= 8):
        raise ValueError(f"tiles layout {cols}x{rows} out of range (1..8 each way)")
    return TileBand(cols, rows, float(record["c_low"]), float(record["c_high"]), min(spec.size))


def _platt(record: Any) -> tuple[float, float]:
    if record is None:
        return 1.0, 0.0
    a, b = float(record["a"]), float(record["b"])
    if not (0.0 < a < 100.0 and -100.0 < b < 100.0):
        raise ValueError(f"calibration a={a}, b={b} out of range (0 < a < 100, |b| < 100)")
    return a, b


def _shape(dims: Any) -> tuple[Dim, ...]:
    return tuple(d if isinstance(d, str) else int(d) for d in dims)


def _triple(values: Any) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in values)
    return a, b, c


@dataclass(frozen=True)
class Manifest:
    """All models of one manifest file, and the default model id per stage."""

    path: Path
    entries: Mapping[str, ModelEntry]
    defaults: Mapping[int, str]

    @property
    def directory(self) -> Path:
        """Where the model files lie (beside the manifest)."""
        return self.path.parent

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        """Read and check a manifest; :class:`ModelError` when missing or malformed."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ModelError(f"cannot read model manifest {p}: {err}") from err
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(f"{p} is not a {FORMAT} manifest")
        if data.get("version") != VERSION:
            raise ModelError(f"{p}: manifest version {data.get('version')} (expected {VERSION})")
        entries: dict[str, ModelEntry] = {}
        for record in data.get("models", []):
            entry = ModelEntry.from_dict(record)
            if entry.model_id in entries:
                raise ModelError(f"{p}: model id {entry.model_id!r} appears twice")
            entries[entry.model_id] = entry
        defaults: dict[int, str] = {}
        for stage, mid in dict(data.get("defaults", {})).items():
            if mid not in entries or entries[mid].stage != int(stage):
                raise ModelError(
                    f"{p}: default for stage {stage} is {mid!r}, not a model of that stage"
                )
            defaults[int(stage)] = str(mid)
        return cls(p, entries, defaults)

    def entry(self, model_id: str) -> ModelEntry:
        """The entry called ``model_id``; :class:`ModelError` naming the known ids otherwise."""
        try:
            return self.entries[model_id]
        except KeyError:
            raise ModelError(
                f"no model {model_id!r} in {self.path}; known: {sorted(self.entries)}"
            ) from None

    def default_for(self, stage: int) -> ModelEntry:
        """The default model of ``stage`` (1, 2 or 3; 0 the people-and-vehicles detector)."""
        if stage not in self.defaults:
            raise ModelError(f"{self.path} names no default model for stage {stage}")
        return self.entries[self.defaults[stage]]

    def for_stage(self, stage: int) -> list[ModelEntry]:
        """Every model of ``stage``, in manifest order."""
        return [e for e in self.entries.values() if e.stage == stage]


def default_manifest_path() -> Path:
    """The package's ``models/manifest.json`` (the source tree's, else the installed copy)."""
    try:
        return share_dir("models", "manifest.json") / "manifest.json"
    except FileNotFoundError:
        return Path(__file__).resolve().parents[3] / "models" / "manifest.json"
