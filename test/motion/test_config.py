"""MotionConfig: validation, metadata, text form of masks, live replacement."""

from __future__ import annotations

import dataclasses

import pytest

from wildcam.errors import ConfigError
from wildcam.motion import MotionConfig, format_polygons, parse_polygons
from wildcam.params import build_config, param_specs

SPECS = param_specs(MotionConfig, every=True)


def test_defaults_are_valid_and_within_their_ranges() -> None:
    config = MotionConfig()
    for spec in SPECS:
        value = getattr(config, spec.name)
        assert value == (parse_polygons(spec.default) if spec.parsed else spec.default)
        if spec.min is not None:
            assert spec.min <= value <= spec.max, spec.name


def test_fields_metadata_covers_every_field_once() -> None:
    assert [spec.name for spec in SPECS] == [f.name for f in dataclasses.fields(MotionConfig)]
    for spec in SPECS:
        assert spec.description.strip(), spec.name
        assert spec.type in (int, float, bool, str), spec.name
        assert isinstance(spec.default, spec.type), spec.name
        assert (spec.min is None) == (spec.max is None), spec.name
    # every field but downscale is a node parameter; units show in the description
    assert [s.name for s in SPECS if not s.node] == ["downscale"]
    threshold = next(s for s in SPECS if s.name == "pixel_threshold")
    assert threshold.unit == "grey levels" and threshold.description.endswith("[grey levels]")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("pixel_threshold", 0),
        ("pixel_threshold", 255),
        ("learning_rate", 0.9),
        ("min_changed_fraction", -0.1),
        ("despeckle_width", 16),
        ("despeckle_height", 0),
        ("texture_tolerance", -0.1),
        ("illumination_threshold", float("nan")),
        ("event_start_frames", 0),
        ("max_rois", 65),
        ("roi_padding", 3.0),
        ("downscale", 33),
    ],
)
def test_out_of_range_raises_config_error_naming_the_field(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=name):
        MotionConfig(**{name: value})  # type: ignore[arg-type]


def test_types_are_checked_and_whole_numbers_coerced() -> None:
    with pytest.raises(ConfigError, match="vegetation_suppression"):
        MotionConfig(vegetation_suppression=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_rois"):
        MotionConfig(max_rois=True)
    with pytest.raises(ConfigError, match="pixel_threshold"):
        MotionConfig(pixel_threshold=12.5)  # type: ignore[arg-type]
    config = MotionConfig(pixel_threshold=12.0, activity_rate=1)  # type: ignore[arg-type]
    assert config.pixel_threshold == 12 and isinstance(config.pixel_threshold, int)
    assert isinstance(config.activity_rate, float)


def test_build_config_rejects_unknown_keys_and_validates_changes() -> None:
    with pytest.raises(ConfigError, match="no_such_knob"):
        build_config(MotionConfig, {"no_such_knob": 1})
    config = build_config(MotionConfig, {"pixel_threshold": 30})
    assert config.pixel_threshold == 30
    with pytest.raises(ConfigError, match="pixel_threshold"):
        build_config(MotionConfig, {"pixel_threshold": -1}, base=config)
    assert build_config(MotionConfig, {"downscale": 8}, base=config).downscale == 8


def test_masks_parse_format_round_trip_and_validation() -> None:
    text = "0,0 100,0 100,50; 200,200 300,200 300,300 200,300"
    polygons = parse_polygons(text)
    assert polygons[0] == ((0.0, 0.0), (100.0, 0.0), (100.0, 50.0))
    assert len(polygons[1]) == 4
    assert parse_polygons(format_polygons(polygons)) == polygons
    assert MotionConfig(masks=text).masks == polygons  # type: ignore[arg-type]
    assert build_config(MotionConfig, {"masks": ""}).masks == ()
    with pytest.raises(ConfigError, match="masks"):
        MotionConfig(masks=(((0, 0), (1, 1)),))
    with pytest.raises(ConfigError, match="masks"):
        parse_polygons("0,0 1,x 2,2")


def test_factor_for_picks_about_160_pixels_wide() -> None:
    auto = MotionConfig()
    assert auto.factor_for(640) == 4
    assert auto.factor_for(1280) == 8
    assert auto.factor_for(1920) == 12
    assert auto.factor_for(100) == 1
    assert MotionConfig(downscale=2).factor_for(1280) == 2
