"""Scene configuration: validation, presets, scene files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from wildcam.camera import (
    PRESETS,
    Interval,
    SceneConfig,
    SyntheticScene,
    Visit,
    day_scene,
    default_scene,
    empty_scene,
    load_scene,
    nuisance_scene,
    scene_from_dict,
    scene_preset,
    scene_to_dict,
)
from wildcam.camera.scene import daylight
from wildcam.errors import ConfigError


@pytest.mark.parametrize(
    "changes",
    [
        {"fps": 0.0},
        {"width": 8},
        {"duration_s": -1.0},
        {"sensor_noise_sigma": 50.0},
        {"drift_period_s": 10.0},
        {"wind": (Interval(1.0, 5.0, 0.5), Interval(4.0, 6.0, 0.5))},  # overlap
        {"rain": (Interval(1.0, 5.0, 0.5, "hail"),)},
        {"ir_night": (Interval(50.0, 70.0),)},  # past the end
        {"visits": (Visit(55.0, 10.0),)},  # past the end
    ],
)
def test_invalid_configs_raise_config_error(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        replace(SceneConfig(duration_s=60.0), **changes)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"species": "unicorn"},
        {"direction": "upwards"},
        {"size": 0.0},
        {"speed": -1.0},
    ],
)
def test_invalid_visits_raise_config_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Visit(1.0, 5.0, **kwargs)


def test_rain_without_a_kind_is_rain() -> None:
    config = SceneConfig(rain=(Interval(1.0, 2.0, 0.5),))
    assert config.rain[0].kind == "rain"


def test_default_scene_has_what_the_benchmarks_expect() -> None:
    config = default_scene(seed=7)
    assert (config.width, config.height, config.fps, config.n_frames) == (640, 480, 10.0, 1200)
    assert len(config.visits) == 4 and len(config.wind) == 1 and len(config.rain) == 1
    assert len(config.ir_night) == 1 and config.ir_night[0].start_s > 0
    assert config.ir_night[0].end_s < config.duration_s  # IR goes on and off again
    assert config.seed == 7


def test_nuisance_and_empty_scenes_have_no_animals() -> None:
    nuisance = nuisance_scene(seed=1)
    assert not nuisance.visits and nuisance.wind and nuisance.ir_night
    assert {i.kind for i in nuisance.rain} == {"rain", "snow"}
    empty = empty_scene(30.0, seed=2)
    assert not empty.visits and not empty.rain and not empty.ir_night
    assert empty.duration_s == 30.0 and all(i.strength <= 0.2 for i in empty.wind)


@pytest.mark.parametrize("duration", [60.0, 240.0, 900.0])
def test_day_scene_is_parametric_in_its_length(duration: float) -> None:
    config = day_scene(duration, seed=0)
    assert config.day_length_s == duration and len(config.visits) == 6
    night, morning = config.ir_night
    assert night.start_s == 0.0 and morning.end_s == duration  # dark at both ends
    assert 0.0 < night.end_s < 0.2 * duration < 0.5 * duration < morning.start_s
    assert all(v.end_s <= duration for v in config.visits)
    with pytest.raises(ConfigError):
        day_scene(30.0)


def test_daylight_curve_is_dark_at_night_and_full_at_noon() -> None:
    assert daylight(0.0) == pytest.approx(0.04)
    assert daylight(0.5) == pytest.approx(1.0)
    assert daylight(0.25) < daylight(0.3) < daylight(0.4)


def test_presets_by_name() -> None:
    assert set(PRESETS) == {"default", "empty", "nuisance", "day"}
    assert scene_preset("nuisance", 3) == nuisance_scene(3)
    with pytest.raises(ConfigError):
        scene_preset("jungle")


def test_scene_dict_round_trip_and_unknown_keys() -> None:
    config = default_scene(2)
    assert scene_from_dict(json.loads(json.dumps(scene_to_dict(config)))) == config
    with pytest.raises(ConfigError, match="unknown scene keys"):
        scene_from_dict({"seed": 1, "colour": "red"})
    with pytest.raises(ConfigError):
        scene_from_dict({"width": 640.5})
    with pytest.raises(ConfigError):
        scene_from_dict({"visits": [{"start_s": 1, "duration_s": 5, "legs": 4}]})
    with pytest.raises(ConfigError):
        scene_from_dict({"visits": [{"start_s": 1}]})
    with pytest.raises(ConfigError):
        scene_from_dict({"fps": "fast"})


def test_load_scene_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "scene.yaml"
    path.write_text(
        "seed: 4\nwidth: 160\nheight: 120\nduration_s: 20\n"
        "visits:\n  - {start_s: 2, duration_s: 9, species: fox, size: 0.2,"
        " direction: right_to_left, speed: 0.3}\n"
        "wind: [{start_s: 1, end_s: 8, strength: 0.5}]\n"
        "rain: [[10, 14, 0.4, snow]]\n"
        "ir_night: [[15, 20]]\n"
    )
    config = load_scene(path)
    assert config.visits == (Visit(2.0, 9.0, "fox", 0.2, "right_to_left", 0.3),)
    assert config.rain == (Interval(10.0, 14.0, 0.4, "snow"),)
    assert config.ir_night == (Interval(15.0, 20.0),)
    scene = SyntheticScene(config)
    assert scene.render(0).shape == (120, 160, 3)
    assert [e.kind for e in scene.events] == ["fox"]


def test_load_scene_rejects_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_scene(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError):
        load_scene(bad)
