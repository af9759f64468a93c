"""ONNX tools of the model builds that need no torch: static int8 quantisation (ONNX Runtime's
quantiser), a session with the runtime's settings and a latency measurement; shared by the
builds of the teacher, the students and the people-and-vehicles detector."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from wildcam.cascade.onnx_models import RuntimeOptions

__all__ = ["CALIB_CHUNK", "latency_ms", "nodes_of", "quantize_int8", "session", "tail_nodes"]

CALIB_CHUNK = 8
"""Calibration batches whose activations are held at once (bounds memory on the 640 input)."""


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, batches: Sequence[np.ndarray]) -> None:
        self._name = name
        self._batches = list(batches)
        self._it: Iterator[np.ndarray] = iter(self._batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._it, None)
        return None if batch is None else {self._name: batch}

    def rewind(self) -> None:
        self._it = iter(self._batches)


def tail_nodes(path: Path, markers: Sequence[str]) -> list[str]:
    """Names of the nodes whose name contains a marker, and of every node downstream of them.

    Used to keep a model's decoding tail in float: e.g. YOLOX concatenates pixel coordinates and
    0..1 scores into one tensor, which a single uint8 scale cannot hold.
    """
    graph = onnx.load(str(path)).graph
    tainted: set[str] = set()
    names = []
    for node in graph.node:  # nodes are stored in topological order
        if any(m in node.name for m in markers) or tainted.intersection(node.input):
            names.append(node.name)
            tainted.update(node.output)
    return names


def quantize_int8(
    fp32: Path,
    int8: Path,
    input_name: str,
    batches: Sequence[np.ndarray],
    exclude_markers: Sequence[str] = (),
    method: CalibrationMethod = CalibrationMethod.MinMax,
    exclude_ops: Sequence[str] = (),
) -> None:
    """Static QDQ int8 (per-channel weights, uint8 activations) calibrated on ``batches``.

    Nodes named with one of ``exclude_markers``, and everything after them, stay float; so do
    nodes of the ``exclude_ops`` types (e.g. a max-pool whose padding is minus infinity, which
    no uint8 scale holds).
    """
    batches = list(batches)
    if len(batches) % CALIB_CHUNK == 0:  # onnxruntime fails on an empty last chunk
        batches = batches[:-1]
    pre = int8.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    try:
        quantize_static(
            str(pre),
            str(int8),
            _Reader(input_name, batches),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=method,
            nodes_to_exclude=tail_nodes(pre, exclude_markers) + nodes_of(pre, exclude_ops),
            extra_options={
                "ActivationSymmetric": False,
                "WeightSymmetric": True,
                "CalibMaxIntermediateOutputs": CALIB_CHUNK,
            },
        )
    finally:
        pre.unlink(missing_ok=True)
    proto = onnx.load(str(int8))
    proto.producer_name = "wildcam"
    proto.producer_version = "1"
    onnx.save(proto, str(int8))


def nodes_of(path: Path, ops: Sequence[str]) -> list[str]:
    """Names of the nodes of the ``ops`` types."""
    return [n.name for n in onnx.load(str(path)).graph.node if n.op_type in ops]


def session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """A CPU session with the runtime's settings (:class:`RuntimeOptions`)."""
    options = RuntimeOptions(threads=threads)
    return ort.InferenceSession(
        str(path), sess_options=options.session_options(), providers=[options.execution_provider]
    )


def latency_ms(run: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``run()`` in milliseconds."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000.0)
    return round(statistics.median(times), 3)
