"""Tiny ONNX models with known answers, and a manifest for them (test-local helpers).

Each classifier answers a constant logit whatever the crop, each detector one constant YOLOX
row, so node tests know which stage decides: ``tiny_unsure`` (score 0.5, inside its band)
escalates, ``tiny_sure`` (0.95) decides at stage 1, ``large`` boxes the whole of a 4:3 frame
(score 0.81).
``tiny_truncated`` is a file cut short (its sha256 no longer matches) and ``large_mismatch``
a file whose output is not the one its entry declares.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
DETECTION = (32.0, 24.0, 64.0, 48.0, 0.9, 0.9)  # cx, cy, w, h: a 4:3 frame, whole; obj, cls


def _model(batch: int | str, size: int, out_name: str, constant: np.ndarray) -> bytes:
    """``out = mean(image) * 0 + constant``, shaped like ``constant`` with the batch in front."""
    shape = [batch, *constant.shape[1:]]
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["mean", "flat"], ["mean_flat"]),
        helper.make_node("Mul", ["mean_flat", "zero"], ["nothing"]),
        helper.make_node("Add", ["nothing", "constant"], [out_name]),
    ]
    ones = [1] * (constant.ndim - 1)
    inits = [
        numpy_helper.from_array(np.array([-1, *ones], np.int64), "flat"),
        numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
        numpy_helper.from_array(constant.astype(np.float32), "constant"),
    ]
    graph = helper.make_graph(
        nodes,
        "fake",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _classifier_entry(model_id: str, stage: int, file: str, data: bytes) -> dict[str, Any]:
    return {
        "id": model_id,
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "stage": stage,
        "kind": "classifier",
        "precision": "fp32",
        "input": {
            "name": "image",
            "shape": ["N", 3, 32, 32],
            "scale": 1 / 255,
            "resize": "square_crop",
            "context": 0.1,
        },
        "outputs": [{"name": "logit", "shape": ["N", 1]}],
        "decoding": "sigmoid_logit",
        "classes": ["animal"],
        "c_low": 0.2,
        "c_high": 0.8,
    }


def _detector_entry(model_id: str, file: str, data: bytes) -> dict[str, Any]:
    return {
        "id": model_id,
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "stage": 3,
        "kind": "detector",
        "precision": "fp32",
        "input": {
            "name": "image",
            "shape": [1, 3, 64, 64],
            "resize": "letterbox",
            "pad_value": 114,
        },
        "outputs": [{"name": "output", "shape": [1, 1, 6]}],
        "decoding": "yolox",
        "classes": ["animal"],
        "c_low": 0.3,
        "c_high": 0.6,
    }


def write_fake_manifest(folder: Path) -> Path:
    """Write the fake models and ``manifest.json`` into ``folder``; return the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    unsure = _model("N", 32, "logit", np.zeros((1, 1)))
    sure = _model("N", 32, "logit", np.full((1, 1), np.log(0.95 / 0.05)))
    large = _model(1, 64, "output", np.array([[DETECTION]]))
    files = {
        "tiny_unsure.onnx": unsure,
        "tiny_sure.onnx": sure,
        "large.onnx": large,
        "tiny_truncated.onnx": sure[: len(sure) // 2],
        "large_mismatch.onnx": large,
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    mismatch = _detector_entry("large_mismatch", "large_mismatch.onnx", large)
    mismatch["outputs"] = [{"name": "boxes", "shape": [1, 1, 6]}]
    truncated = _classifier_entry("tiny_truncated", 1, "tiny_truncated.onnx", sure)
    models = [
        _classifier_entry("tiny_unsure", 1, "tiny_unsure.onnx", unsure),
        _classifier_entry("tiny_sure", 1, "tiny_sure.onnx", sure),
        truncated,
        _detector_entry("large", "large.onnx", large),
        mismatch,
    ]
    manifest = {
        "format": "wildcam-models",
        "version": 1,
        "defaults": {"1": "tiny_unsure", "3": "large"},
        "models": models,
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1))
    return path
