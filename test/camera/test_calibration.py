"""Calibration files in camera_calibration's YAML format, found through camera_info_url."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wildcam.camera.base import MAX_CAPTURE_AGE_S, Frame
from wildcam.camera.calibration import (
    calibration_to_yaml,
    load_calibration,
    parse_calibration,
    resolve_url,
)
from wildcam.errors import ConfigError

# As camera_calibration's cameracalibrator writes it (ost.yaml), for a 640x480 camera.
OST_YAML = """\
image_width: 640
image_height: 480
camera_name: narrow_stereo
camera_matrix:
  rows: 3
  cols: 3
  data: [430.2, 0, 306.7, 0, 429.9, 241.2, 0, 0, 1]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [-0.337, 0.109, 0.0002, -0.0004, 0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]
projection_matrix:
  rows: 3
  cols: 4
  data: [355.3, 0, 307.1, 0, 0, 387.9, 240.4, 0, 0, 0, 1, 0]
"""


def test_ost_yaml_parses_and_round_trips(tmp_path: Path) -> None:
    cal = parse_calibration(OST_YAML)
    assert (cal.camera_name, cal.width, cal.height) == ("narrow_stereo", 640, 480)
    assert cal.k[0] == 430.2 and cal.k[8] == 1.0 and len(cal.d) == 5 and len(cal.p) == 12
    assert cal.distortion_model == "plumb_bob"
    assert cal.matches(640, 480) and not cal.matches(320, 240)
    assert parse_calibration(calibration_to_yaml(cal)) == cal
    path = tmp_path / "ost.yaml"
    path.write_text(OST_YAML)
    for url in (str(path), f"file://{path}"):
        assert load_calibration(url) == cal
    assert load_calibration("") is None and resolve_url("") is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[1, 2]", "a mapping"),
        (":\n  - [", "not YAML"),
        (OST_YAML.replace("image_width: 640", "image_width: -1"), "image_width"),
        (OST_YAML.replace("rows: 3\n  cols: 4", "rows: 4\n  cols: 4"), "projection_matrix"),
        (OST_YAML.replace("[1, 0, 0, 0, 1, 0, 0, 0, 1]", "[1, 0]"), "rectification_matrix"),
        (OST_YAML.replace("430.2", "wide"), "not a number"),
    ],
)
def test_malformed_calibration_names_the_problem(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_calibration(text)


def test_bad_urls_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_calibration(f"file://{tmp_path}/missing.yaml")
    with pytest.raises(ConfigError, match="unsupported scheme"):
        load_calibration("http://example.invalid/cal.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_calibration("package://no_such_package_here/cal.yaml")


def test_camera_info_carries_the_calibration_only_at_its_size() -> None:
    from builtin_interfaces.msg import Time

    from wildcam.ros.convert import camera_info

    cal = parse_calibration(OST_YAML)
    info = camera_info(640, 480, Time(sec=3), "camera_optical_frame", 4, cal)
    assert (info.binning_x, info.binning_y, info.header.frame_id) == (4, 4, "camera_optical_frame")
    assert list(info.k) == list(cal.k) and list(info.p) == list(cal.p)
    assert list(info.d) == list(cal.d) and info.distortion_model == "plumb_bob"
    other = camera_info(320, 240, Time(sec=3), "camera_optical_frame", 1, cal)
    assert other.binning_x == 0 and not any(other.k) and not any(other.p)


def test_capture_age_is_believed_only_when_plausible() -> None:
    pixels = np.zeros((2, 2, 3), np.uint8)
    assert Frame(pixels, 0.0, 0).age_s(100.0) == 0.0  # unknown capture time
    assert Frame(pixels, 0.0, 0, captured_at=99.75).age_s(100.0) == pytest.approx(0.25)
    assert Frame(pixels, 0.0, 0, captured_at=101.0).age_s(100.0) == 0.0  # in the future
    assert Frame(pixels, 0.0, 0, captured_at=100.0 - 2 * MAX_CAPTURE_AGE_S).age_s(100.0) == 0.0
