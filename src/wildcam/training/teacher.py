"""Stage 3, the teacher: MegaDetector-Lite (YOLOX-tiny) from the zamba wheel to fp32 and int8 ONNX.

Steps: read the checkpoint and its kwargs out of the downloaded wheel; build :class:`YoloxTiny`
and load the weights strictly; export ONNX at 640 and 416; check ONNX against torch on real
frames; score both sizes on the frames of the ``train`` and ``calib`` groups whose truth is known
and time them; keep one size; quantise it to int8 (static QDQ, calibrated on real frames, decoding
tail kept float); check int8 against fp32 on presence on the held-back ``test`` groups' frames.
"""

from __future__ import annotations

import functools
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wildcam.cascade.base import RegionResult
from wildcam.cascade.manifest import ANIMAL_DETECTOR, InputSpec, ModelEntry
from wildcam.cascade.onnx_models import OnnxDetector, letterbox, normalise
from wildcam.training.common import (
    count_macs,
    count_params,
    export_onnx,
    sha256_file,
)
from wildcam.training.data import Frame
from wildcam.training.onnx_tools import latency_ms, quantize_int8, session
from wildcam.training.yolox import load_megadetector_lite
from wildcam.types import Box

__all__ = [
    "CHECKPOINT",
    "MAX_UPSCALE",
    "PRESENT",
    "Teacher",
    "average_precision",
    "build_teacher",
    "calibration_frames",
    "detector_record",
    "extract_weights",
    "model_input",
    "presence_metrics",
]

CHECKPOINT = "zamba/object_detection/yolox/assets/yolox_tiny_640_20220528.pth"
KWARGS = "zamba/object_detection/yolox/assets/yolox_tiny_640_20220528_model_kwargs.json"
PRESENT = 0.25
"""Teacher score from which a frame counts as "animal present" (zamba's own confidence)."""
SIZES = (640, 416)
TRAPS = ("ena24", "misc", "buow")
CALIB_FRAMES = 30
"""Training frames that calibrate the int8 activations."""
PAD = 0
"""Letterbox padding (zamba pads with black)."""
MAX_UPSCALE = 1.5
"""The most the detector's letterbox enlarges an image: the largest scale of YOLOX-tiny's
training augmentation (``scale = (0.5, 1.5)`` in the tiny experiment of zamba 2.7.2's YOLOX
training harness, ``zamba/object_detection/yolox/yolox_model.py``, copied from Megvii's
``exps/default/yolox_tiny.py``). MegaDetector-Lite never saw an image blown up further, and it
scores an animal of a 90 x 60 clip enlarged 7x to 640 far lower than the same frame at 1.5x.
ASSUMPTION: the MegaDetector-Lite weights were trained with that harness's defaults (the wheel
ships the harness and the weights, not the training run's settings)."""
PROVENANCE = (
    "MegaDetector-Lite (YOLOX-tiny, one class 'animal') weights from the PyPI wheel "
    "zamba==2.7.2, " + CHECKPOINT + " (drivendataorg/zamba, MIT licence); network "
    "rebuilt in wildcam.training.yolox, exported and quantised by wildcam.training"
)


def extract_weights(wheel: Path, out: Path) -> tuple[Path, dict[str, Any]]:
    """Unzip the checkpoint and its kwargs JSON from the zamba wheel into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        zf.extract(CHECKPOINT, out)
        kwargs = json.loads(zf.read(KWARGS))
    return out / CHECKPOINT, kwargs


def detector_record(
    model_id: str,
    file: str,
    sha: str,
    size: int,
    precision: str,
    c_low: float,
    c_high: float,
    stage: int = 3,
) -> dict[str, Any]:
    """The manifest fields the runtime needs for a YOLOX detector of input ``size``."""
    return {
        "id": model_id,
        "file": file,
        "sha256": sha,
        "stage": stage,
        "kind": "detector",
        "precision": precision,
        "input": {
            "name": "images",
            "shape": [1, 3, size, size],
            "layout": "NCHW",
            "color": "RGB",
            "scale": 1.0,
            "mean": [0.0, 0.0, 0.0],
            "std": [1.0, 1.0, 1.0],
            "resize": "letterbox",
            "context": 0.1,
            "pad_value": PAD,
            "max_upscale": MAX_UPSCALE,
        },
        "outputs": [{"name": "output", "shape": [1, n_anchors(size), 6]}],
        "decoding": ANIMAL_DETECTOR,
        "classes": ["animal"],
        "c_low": c_low,
        "c_high": c_high,
        "nms_iou": 0.45,
        "min_score": 0.05,
    }


def n_anchors(size: int) -> int:
    return sum((size // s) ** 2 for s in (8, 16, 32))


@dataclass
class Teacher:
    """A loaded detector (ONNX Runtime) used to label frames."""

    model: OnnxDetector
    cache: dict[str, RegionResult]

    @classmethod
    def open(cls, path: Path, size: int, threads: int = 2) -> Teacher:
        record = detector_record("teacher", path.name, sha256_file(path), size, "fp32", 0.0, 1.0)
        return cls(OnnxDetector(ModelEntry.from_dict(record), session(path, threads)), {})

    def label(self, frame: Frame) -> RegionResult:
        """The detector's answer on the whole frame (remembered per frame key)."""
        if frame.key not in self.cache:
            h, w = frame.image.shape[:2]
            self.cache[frame.key] = self.model.predict(frame.image, [Box(0, 0, w, h)])[0]
        return self.cache[frame.key]


def presence_metrics(
    scores: Sequence[float], truth: Sequence[bool], threshold: float
) -> dict[str, float]:
    """Precision, recall, F1 and accuracy of ``score >= threshold`` against ``truth``."""
    s = np.asarray(scores) >= threshold
    t = np.asarray(truth, bool)
    tp, fp, fn = int(np.sum(s & t)), int(np.sum(s & ~t)), int(np.sum(~s & t))
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(f1, 4),
        "accuracy": round(float(np.mean(s == t)), 4),
        "n": len(t),
        "positives": int(t.sum()),
    }


def average_precision(scores: Sequence[float], truth: Sequence[bool]) -> float:
    """Area under the precision-recall curve of ranking by score (all-points interpolation)."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    t = np.asarray(truth, bool)[order]
    if not t.any():
        return 0.0
    tp = np.cumsum(t)
    precision = tp / np.arange(1, len(t) + 1)
    return round(float(np.sum(precision[t]) / t.sum()), 4)


def calibration_frames(frames: Sequence[Frame]) -> list[Frame]:
    """The ``train`` frames, evenly spread, that calibrate a detector's int8 activations."""
    train = [f for f in frames if f.split == "train"]
    return train[:: max(len(train) // CALIB_FRAMES, 1)][:CALIB_FRAMES]


def model_input(frame: Frame, size: int) -> np.ndarray:
    """``frame`` as the detector's input tensor at ``size`` (letterboxed)."""
    spec = detector_spec(size)
    boxed, _ = letterbox(frame.image, size, PAD, spec.max_upscale)
    return normalise([boxed], spec)


def detector_spec(size: int) -> InputSpec:
    """The detector's input spec at ``size`` (as in its manifest record)."""
    return ModelEntry.from_dict(
        detector_record("x", "x.onnx", "0" * 64, size, "fp32", 0.0, 1.0)
    ).input


def build_teacher(
    wheel: Path, frames: Sequence[Frame], work: Path, out: Path, log: Any = print
) -> tuple[dict[str, Any], Teacher]:
    """Export, check, choose the size, quantise; write ``large_fp32.onnx`` / ``large_int8.onnx``.

    Returns the figures for the model card (parity, per-size accuracy and latency, choice) and
    the chosen fp32 detector as a labeller (its answers so far remembered).
    """
    pth, kwargs = extract_weights(wheel, work / "zamba")
    net = load_megadetector_lite(str(pth), int(kwargs.get("num_classes", 1)))
    known = [f for f in frames if f.animal is not None]
    # the input size is chosen on the train and calib groups; the test groups only report
    choosing = [f for f in known if f.role != "test"]
    report: dict[str, Any] = {"kwargs": kwargs, "params": count_params(net), "sizes": {}}
    teachers: dict[int, Teacher] = {}

    for size in SIZES:
        path = work / f"large_{size}_fp32.onnx"
        export_onnx(net, (1, 3, size, size), path, "images", ["output"], dynamic_batch=False)
        sess = session(path, 1)
        # parity: torch vs ONNX on real frames (scores; boxes where something is found)
        worst = worst_box = 0.0
        for f in known[:: max(len(known) // 6, 1)][:6]:
            x = model_input(f, size)
            with torch.no_grad():
                ref = net(torch.from_numpy(x)).numpy()[0]
            got = sess.run(None, {"images": x})[0][0]
            worst = max(worst, float(np.abs(ref[:, 4] * ref[:, 5] - got[:, 4] * got[:, 5]).max()))
            found = ref[:, 4] * ref[:, 5] >= 0.05
            if found.any():
                worst_box = max(worst_box, float(np.abs(ref[found, :4] - got[found, :4]).max()))
        if worst > 1e-3 or worst_box > 0.5:
            raise RuntimeError(
                f"ONNX export at {size} disagrees with torch: score diff {worst}, "
                f"box diff {worst_box} px"
            )
        teachers[size] = teacher = Teacher.open(path, size, threads=2)
        scores = [teacher.label(f).score for f in choosing]
        truth = [bool(f.animal) for f in choosing]
        x = model_input(known[0], size)
        ms = latency_ms(functools.partial(sess.run, None, {"images": x}), repeats=15)
        report["sizes"][size] = {
            "parity_max_score_diff": worst,
            "parity_max_box_diff_px": worst_box,
            "metrics_at_present": presence_metrics(scores, truth, PRESENT),
            "average_precision": average_precision(scores, truth),
            "camera_trap_recall": presence_metrics(
                [s for s, f in zip(scores, choosing, strict=True) if f.source in TRAPS],
                [True for f in choosing if f.source in TRAPS],
                PRESENT,
            )["recall"],
            "max_empty_score": round(
                max((s for s, t in zip(scores, truth, strict=True) if not t), default=0.0), 4
            ),
            "fp32_ms": ms,
            "macs": count_macs(net, (1, 3, size, size)),
        }
        log(f"teacher {size}: {report['sizes'][size]}")

    big, small = report["sizes"][640], report["sizes"][416]
    # the smaller (cheaper) input only if it ranks frames as well (average precision within
    # 0.01) and finds as many camera-trap animals (recall within 0.05)
    keep_small = (
        small["average_precision"] >= big["average_precision"] - 0.01
        and small["camera_trap_recall"] >= big["camera_trap_recall"] - 0.05
    )
    size = 416 if keep_small else 640
    report["chosen_size"] = size
    fp32 = out / "large_fp32.onnx"
    fp32.write_bytes((work / f"large_{size}_fp32.onnx").read_bytes())

    calib = calibration_frames(frames)
    int8 = out / "large_int8.onnx"
    quantize_int8(
        fp32, int8, "images", [model_input(f, size) for f in calib], exclude_markers=("_preds",)
    )
    s32, s8 = session(fp32, 1), session(int8, 1)
    x = model_input(known[0], size)
    report["fp32_ms"] = latency_ms(lambda: s32.run(None, {"images": x}), repeats=15)
    report["int8_ms"] = latency_ms(lambda: s8.run(None, {"images": x}), repeats=15)
    t32, t8 = teachers[size], Teacher.open(int8, size)
    evalset = [f for f in known if f.role == "test"]
    a = [t32.label(f).score for f in evalset]
    b = [t8.label(f).score for f in evalset]
    report["int8_vs_fp32"] = {
        "presence_agreement": round(
            float(np.mean((np.asarray(a) >= PRESENT) == (np.asarray(b) >= PRESENT))), 4
        ),
        "max_score_diff": round(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))), 4),
        "n": len(a),
    }
    report["eval_scores_fp32"] = a
    report["eval_scores_int8"] = b
    report["eval_truth"] = [bool(f.animal) for f in evalset]
    log(
        f"teacher chosen {size}: fp32 {report['fp32_ms']} ms, int8 {report['int8_ms']} ms, "
        f"int8 vs fp32 {report['int8_vs_fp32']}"
    )
    return report, t32
