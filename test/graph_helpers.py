"""Helpers for the graph tests of several folders (imported by name: test/ is on sys.path, as
the directory of test/conftest.py under pytest's prepend import mode)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from sensor_msgs.msg import CompressedImage

from wildcam.msg import Detection, DetectionArray
from wildcam.ros.convert import seconds_to_time


def detection_array(
    i: int, thumbnail_bytes: int = 3000, full: bool = False, model_id: str = "fake"
) -> DetectionArray:
    """Event ``i``'s detections as the cascade publishes them: one box, a thumbnail of
    ``thumbnail_bytes`` and, with ``full``, a 90 kB full frame; stamped 100 + i s."""
    msg = DetectionArray(
        event_id=i,
        detections=[
            Detection(
                id="0",
                center_x=50.0,
                center_y=60.0,
                size_x=20.0,
                size_y=30.0,
                class_id="animal",
                score=0.9,
                stage=1,
                model_id=model_id,
            )
        ],
    )
    msg.header.stamp = seconds_to_time(100.0 + i)
    msg.header.frame_id = "camera"
    msg.thumbnail = CompressedImage(format="jpeg", data=bytes([i]) * thumbnail_bytes)
    if full:
        msg.full_frame = CompressedImage(format="jpeg", data=bytes([i + 1]) * 90000)
    return msg


def onnx_fakes() -> ModuleType:
    """The cascade tests' constant ONNX models (test/cascade/onnx_fakes.py)."""
    path = Path(__file__).parent / "cascade" / "onnx_fakes.py"
    spec = importlib.util.spec_from_file_location("wildcam_test_onnx_fakes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
