"""Conversions between numpy/logic types and ROS messages, with validation of incoming images."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, RegionOfInterest

from wildcam.camera.calibration import Calibration
from wildcam.errors import InputError

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_SIDE",
    "camera_info",
    "compressed_image",
    "image_to_msg",
    "msg_to_image",
    "roi_to_xywh",
    "rois_to_msgs",
    "seconds_to_time",
    "time_to_seconds",
]

# encoding -> (channels, numpy dtype); only what the camera and motion gate produce or accept.
_ENCODINGS: dict[str, tuple[int, type[np.generic]]] = {
    "bgr8": (3, np.uint8),
    "rgb8": (3, np.uint8),
    "mono8": (1, np.uint8),
}
MAX_IMAGE_SIDE = 8192
MAX_IMAGE_BYTES = 64 * 1024 * 1024


def seconds_to_time(seconds: float) -> Time:
    """Convert float seconds to ``builtin_interfaces/Time``."""
    ns = int(round(seconds * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def time_to_seconds(stamp: Time) -> float:
    """Convert ``builtin_interfaces/Time`` to float seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def image_to_msg(image: np.ndarray, stamp: Time, frame_id: str) -> Image:
    """Wrap a ``uint8`` BGR (H×W×3) or grey (H×W) array in a ``sensor_msgs/Image``."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise InputError(f"cannot publish an image of dtype {image.dtype} and shape {image.shape}")
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = "mono8" if image.ndim == 2 else "bgr8"
    msg.is_bigendian = 0
    msg.step = (
        int(image.strides[0])
        if image.flags.c_contiguous
        else msg.width * (1 if image.ndim == 2 else 3)
    )
    msg.data = np.ascontiguousarray(image).tobytes()
    return msg


def msg_to_image(msg: Image) -> np.ndarray:
    """Return the pixels of a ``sensor_msgs/Image`` as a numpy view (BGR or grey).

    Raises :class:`InputError` for an unknown encoding, zero or huge dimensions, or a
    step/size that does not match the declared geometry. ``rgb8`` is returned as BGR.
    """
    if msg.encoding not in _ENCODINGS:
        raise InputError(
            f"unsupported image encoding {msg.encoding!r}; expected one of {sorted(_ENCODINGS)}"
        )
    channels, dtype = _ENCODINGS[msg.encoding]
    h, w = msg.height, msg.width
    if not (0 < h <= MAX_IMAGE_SIDE and 0 < w <= MAX_IMAGE_SIDE):
        raise InputError(f"image dimensions {w}x{h} outside 1..{MAX_IMAGE_SIDE}")
    row = w * channels * np.dtype(dtype).itemsize
    if msg.step < row:
        raise InputError(f"step {msg.step} shorter than a row of {row} bytes ({w}x{msg.encoding})")
    if msg.step * h > MAX_IMAGE_BYTES:
        raise InputError(f"image of {msg.step * h} bytes exceeds the {MAX_IMAGE_BYTES} byte limit")
    data = msg.data
    if len(data) != msg.step * h:
        raise InputError(f"data holds {len(data)} bytes, step*height is {msg.step * h}")
    buf = np.frombuffer(data, dtype=np.uint8).reshape(h, msg.step)[:, :row]
    image = buf.view(dtype).reshape((h, w, channels) if channels > 1 else (h, w))
    if msg.encoding == "rgb8":
        image = image[:, :, ::-1]
    return image


def camera_info(
    width: int,
    height: int,
    stamp: Time,
    frame_id: str,
    binning: int = 1,
    calibration: Calibration | None = None,
) -> CameraInfo:
    """A ``CameraInfo`` for ``width`` x ``height`` frames.

    ``binning`` > 1 marks a reduced stream: ``width``/``height`` stay the full sensor size, as
    REP-104 specifies, and the image is ``width/binning`` x ``height/binning``. With a
    ``calibration`` made for this size, D, K, R and P are filled in (full-resolution values, as
    REP-104 has them under binning); otherwise K and P stay zero (uncalibrated, REP-104).
    """
    info = CameraInfo()
    info.header.stamp = stamp
    info.header.frame_id = frame_id
    info.width, info.height = width, height
    info.binning_x = info.binning_y = binning if binning > 1 else 0
    if calibration is not None and calibration.matches(width, height):
        info.distortion_model = calibration.distortion_model
        info.d = list(calibration.d)
        info.k, info.r, info.p = calibration.k, calibration.r, calibration.p
    return info


def compressed_image(
    image: np.ndarray,
    stamp: Time,
    frame_id: str,
    quality: int,
    fmt: str = "bgr8; jpeg compressed bgr8",
) -> CompressedImage:
    """A BGR image as a JPEG ``CompressedImage``; ``fmt`` by default as image_transport's
    compressed_image_transport writes it, so its subscribers decode it."""
    import cv2  # only the camera and the cascade compress: other users need no OpenCV

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise InputError(f"cannot JPEG-encode an image of shape {image.shape}")
    msg = CompressedImage(format=fmt, data=data.tobytes())
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    return msg


def rois_to_msgs(boxes: Iterable[tuple[int, int, int, int]]) -> list[RegionOfInterest]:
    """Convert ``(x, y, w, h)`` boxes to ``RegionOfInterest`` messages."""
    return [
        RegionOfInterest(x_offset=int(x), y_offset=int(y), width=int(w), height=int(h))
        for x, y, w, h in boxes
    ]


def roi_to_xywh(roi: RegionOfInterest) -> tuple[int, int, int, int]:
    """Convert a ``RegionOfInterest`` back to an ``(x, y, w, h)`` tuple."""
    return (roi.x_offset, roi.y_offset, roi.width, roi.height)
