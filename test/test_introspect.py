"""What ``wildcam param`` / ``wildcam topic`` print, in the ``ros2`` formats (no ROS)."""

from __future__ import annotations

import pytest
import yaml

from wildcam.errors import InputError
from wildcam.introspect import dump_yaml, full_name, hz_text, list_text, parse_value, value_text


def test_list_and_get_read_like_ros2_param() -> None:
    params = {"/uploader": ["enabled", "batch_max_items"], "/camera_driver": ["fps"]}
    assert list_text(params) == (
        "/camera_driver:\n  fps\n/uploader:\n  batch_max_items\n  enabled"
    )
    assert list_text({"/camera_driver": ["fps", "enabled"]}, header=False) == "  enabled\n  fps"
    assert [value_text(v) for v in (10.0, 4, True, "synthetic")] == [
        "Double value is: 10.0",
        "Integer value is: 4",
        "Boolean value is: True",
        "String value is: synthetic",
    ]
    assert value_text([1.0, 2.0]) == "Double array value is: [1.0, 2.0]"
    assert value_text(None) == "Parameter not set."


def test_set_values_are_read_as_yaml_scalars() -> None:
    assert [parse_value(t) for t in ("true", "3", "0.5", "text", "''", "[1, 2]")] == [
        True,
        3,
        0.5,
        "text",
        "",
        "[1, 2]",
    ]


def test_dump_is_the_yaml_params_file_form() -> None:
    text = dump_yaml(
        {"/camera_driver": {"fps": 2.0, "enabled": True}, "/trap1/uploader": {"queue_dir": ""}}
    )
    assert yaml.safe_load(text) == {
        "/**/camera_driver": {"ros__parameters": {"enabled": True, "fps": 2.0}},
        "/**/uploader": {"ros__parameters": {"queue_dir": ""}},
    }


def test_hz_statistics() -> None:
    assert hz_text([1.0]) is None
    assert hz_text([0.0, 0.1, 0.2, 0.3, 0.4]) == (
        "average rate: 10.000\n\tmin: 0.100s max: 0.100s std dev: 0.00000s window: 5"
    )
    uneven = hz_text([0.0, 0.1, 0.3])
    assert uneven is not None and uneven.startswith("average rate: 6.667")
    assert "min: 0.100s max: 0.200s std dev: 0.05000s window: 3" in uneven


def test_node_names_are_made_absolute() -> None:
    assert full_name("camera_driver") == "/camera_driver"
    assert full_name("/trap1/camera_driver") == "/trap1/camera_driver"
    with pytest.raises(InputError):
        full_name("/")
