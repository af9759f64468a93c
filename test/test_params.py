"""The parameter mechanism: specs from dataclass fields, validation, ranges."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from wildcam.errors import ConfigError
from wildcam.params import build_config, check_ranges, param, param_specs, parse_assignments


@dataclass(frozen=True)
class Example:
    rate: float = param(1.0, "A rate.", min=0.5, max=2.0)
    count: int = param(3, "A count.", min=1, max=5, read_only=True)
    mode: str = param("a", "A mode.", choices=("a", "b"))
    on: bool = param(True, "A switch.")

    def __post_init__(self) -> None:
        check_ranges(self)


def test_specs_follow_declaration_order_and_metadata() -> None:
    specs = param_specs(Example)
    assert [s.name for s in specs] == ["rate", "count", "mode", "on"]
    assert specs[0].type is float and specs[0].min == 0.5 and specs[0].max == 2.0
    assert specs[1].read_only and not specs[0].read_only
    assert specs[2].range_text() == "a | b"


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"rate": 3.0}, "rate=3.0 is outside [0.5, 2.0]"),
        ({"count": 0}, "count=0 is outside [1, 5]"),
        ({"mode": "c"}, "mode='c' is not one of a | b"),
        ({"on": 1}, "on must be bool"),
        ({"count": True}, "count must be int"),
        ({"nope": 1}, "unknown parameter(s) ['nope']"),
    ],
)
def test_bad_values_are_refused_naming_the_field(values: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_config(Example, values)
    assert needle in str(err.value)


def test_ints_are_accepted_for_floats_and_base_is_kept() -> None:
    base = build_config(Example, {"count": 4})
    cfg = build_config(Example, {"rate": 2}, base=base)
    assert cfg.rate == 2.0 and isinstance(cfg.rate, float)
    assert cfg.count == 4


def test_parse_assignments_groups_by_node_and_reads_values_as_ros_does() -> None:
    parsed = parse_assignments(
        [
            "camera_driver.fps=2",
            "uploader.enabled=false",
            "uploader.gateway_url=https://gw:8470",
            "cascade_detector.qos.depth=0.5",
            "uploader.enabled=true",
        ]
    )
    assert parsed == {
        "camera_driver": {"fps": 2},
        "uploader": {"enabled": True, "gateway_url": "https://gw:8470"},
        "cascade_detector": {"qos.depth": 0.5},
    }
    for bad in ("fps=2", "camera_driver.fps", ".fps=2", "camera_driver.=2"):
        with pytest.raises(ConfigError, match="--param"):
            parse_assignments([bad])
