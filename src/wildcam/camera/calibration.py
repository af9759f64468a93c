"""Camera calibration files in the format ``camera_calibration`` writes, found by a URL.

The camera driver's ``camera_info_url`` names the file as ``camera_info_manager`` does:
``file:///abs/path.yaml``, ``package://<package>/<path>`` (under the package's share directory,
through the ament index) or a plain path; ``''`` means uncalibrated. The YAML holds
``image_width``, ``image_height``, ``camera_name``, ``distortion_model`` and the matrices
``camera_matrix`` (K, 3x3), ``distortion_coefficients`` (D, 1xN), ``rectification_matrix``
(R, 3x3) and ``projection_matrix`` (P, 3x4), each as ``{rows, cols, data}``.

A calibration belongs to one image size: :meth:`Calibration.matches` says whether it fits the
frames. No rclpy here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from wildcam.errors import ConfigError

__all__ = [
    "Calibration",
    "calibration_to_yaml",
    "load_calibration",
    "parse_calibration",
    "resolve_url",
]

_MATRICES = {  # YAML key -> (field, rows, cols); cols None: any length (D)
    "camera_matrix": ("k", 3, 3),
    "distortion_coefficients": ("d", 1, None),
    "rectification_matrix": ("r", 3, 3),
    "projection_matrix": ("p", 3, 4),
}


@dataclass(frozen=True)
class Calibration:
    """One camera's intrinsics for one image size (``sensor_msgs/CameraInfo``'s fields)."""

    camera_name: str
    width: int
    height: int
    distortion_model: str
    k: tuple[float, ...]
    d: tuple[float, ...]
    r: tuple[float, ...]
    p: tuple[float, ...]

    def matches(self, width: int, height: int) -> bool:
        """Whether the calibration was made for ``width`` x ``height`` frames."""
        return (self.width, self.height) == (width, height)


def resolve_url(url: str) -> Path | None:
    """The file a ``camera_info_url`` names (``None`` for ``''``).

    Raises :class:`ConfigError` for a scheme other than ``file`` or ``package`` or a package
    that cannot be found.
    """
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path if parsed.scheme else url))
    if parsed.scheme == "package":
        try:
            from ament_index_python.packages import (
                PackageNotFoundError,
                get_package_share_directory,
            )
        except ImportError as err:
            raise ConfigError(
                f"camera_info_url {url!r}: no ament index to find package {parsed.netloc!r}"
            ) from err
        try:
            share = Path(get_package_share_directory(parsed.netloc))
        except PackageNotFoundError as err:
            raise ConfigError(
                f"camera_info_url {url!r}: package {parsed.netloc!r} not found"
            ) from err
        return share / unquote(parsed.path).lstrip("/")
    raise ConfigError(
        f"camera_info_url {url!r}: unsupported scheme {parsed.scheme!r} "
        "(file://, package:// or a path)"
    )


def load_calibration(url: str) -> Calibration | None:
    """Read the calibration ``url`` names (``None`` for ``''``); :class:`ConfigError` if the
    file is missing or malformed."""
    path = resolve_url(url)
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(
            f"camera_info_url {url!r}: cannot read {path}: {err.strerror or err}"
        ) from err
    try:
        return parse_calibration(text)
    except ConfigError as err:
        raise ConfigError(f"camera_info_url {url!r} ({path}): {err}") from err


def parse_calibration(text: str) -> Calibration:
    """Parse camera_calibration's YAML; :class:`ConfigError` names the bad key."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"not YAML: {err}") from err
    if not isinstance(doc, dict):
        raise ConfigError("a calibration file is a mapping (image_width, camera_matrix, ...)")
    width, height = _positive_int(doc, "image_width"), _positive_int(doc, "image_height")
    matrices = {
        field: _matrix(doc, key, rows, cols) for key, (field, rows, cols) in _MATRICES.items()
    }
    return Calibration(
        camera_name=str(doc.get("camera_name", "")),
        width=width,
        height=height,
        distortion_model=str(doc.get("distortion_model", "plumb_bob")),
        **matrices,
    )


def calibration_to_yaml(cal: Calibration) -> str:
    """The camera_calibration YAML of ``cal`` (what :func:`parse_calibration` reads back)."""
    doc: dict[str, Any] = {
        "image_width": cal.width,
        "image_height": cal.height,
        "camera_name": cal.camera_name,
    }
    for key, (field, rows, cols) in _MATRICES.items():
        data = list(getattr(cal, field))
        if key == "distortion_coefficients":
            doc["distortion_model"] = cal.distortion_model
        doc[key] = {"rows": rows, "cols": cols or len(data), "data": data}
    return yaml.safe_dump(doc, sort_keys=False)


def _positive_int(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{key} must be a positive integer, got {value!r}")
    return value


def _matrix(doc: dict[str, Any], key: str, rows: int, cols: int | None) -> tuple[float, ...]:
    entry = doc.get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("data"), list):
        raise ConfigError(f"{key} must be a mapping with rows, cols and a data list")
    data = entry["data"]
    if entry.get("rows") != rows or (cols is not None and entry.get("cols") != cols):
        raise ConfigError(
            f"{key} must be {rows}x{cols or 'N'}, got {entry.get('rows')}x{entry.get('cols')}"
        )
    if len(data) != rows * (cols if cols is not None else entry.get("cols", len(data))):
        raise ConfigError(
            f"{key} has {len(data)} values for {entry.get('rows')}x{entry.get('cols')}"
        )
    try:
        return tuple(float(v) for v in data)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{key} holds a value that is not a number: {err}") from err
