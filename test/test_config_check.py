"""The whole configuration is checked before anything starts (no ROS)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wildcam.config_check import check_node_names, check_sources, read_params_file
from wildcam.docs import default_parameters
from wildcam.errors import ConfigError
from wildcam.graph import node


def _file(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_shipped_defaults_pass_and_merge_per_node(tmp_path: Path) -> None:
    path = _file(tmp_path, default_parameters())
    merged = check_sources([path], {"camera_driver": {"fps": 2}})
    assert merged["camera_driver"]["fps"] == 2  # --param comes after the file
    assert merged["uploader"]["queue_dir"] == ""


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"camera_drivr": {"fps": 2.0}},
            "--param: no node 'camera_drivr' (did you mean 'camera_driver'?)",
        ),
        (
            {"camera_driver": {"fsp": 2.0}},
            "--param: camera_driver has no parameter 'fsp' (did you mean 'fps'?)",
        ),
        (
            {"camera_driver": {"fps": "abc"}},
            "--param: camera_driver.fps='abc': allowed: float in [0.1, 60.0]",
        ),
        (
            {"camera_driver": {"fps": 1000.0}},
            "camera_driver.fps=1000.0: allowed: float in [0.1, 60.0]",
        ),
        ({"camera_driver": {"width": 2.5}}, "camera_driver.width=2.5: allowed: int"),
        ({"camera_driver": {"enabled": 1}}, "camera_driver.enabled=1: allowed: bool"),
        (
            {"camera_driver": {"source": "webcam"}},
            "camera_driver.source='webcam': allowed: str in ",
        ),
        (
            {"power_source": {"use_sim_time": "yes"}},
            "power_source.use_sim_time='yes': allowed: bool",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_node_parameter_and_range(
    values: dict,  # type: ignore[type-arg]
    expected: str,
) -> None:
    with pytest.raises(ConfigError) as err:
        check_sources(params=values)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_a_file_mistake_names_the_file(tmp_path: Path) -> None:
    path = _file(tmp_path, {"/**/motion_detector": {"ros__parameters": {"pixel_threshold": -4}}})
    with pytest.raises(
        ConfigError,
        match=rf"^{path}: motion_detector.pixel_threshold=-4: "
        r"allowed: int in \[",
    ):
        check_sources([path])


def test_choices_are_checked_in_files(tmp_path: Path) -> None:
    path = _file(tmp_path, {"/**/power_manager": {"ros__parameters": {"update_period_s": 1.0}}})
    assert check_sources([path])["power_manager"] == {"update_period_s": 1.0}
    bad = {"/**/power_manager": {"ros__parameters": {"override_mode": "turbo"}}}
    with pytest.raises(ConfigError, match="override_mode='turbo': allowed: str in "):
        check_sources([_file(tmp_path, bad)])


def test_cross_field_rules_are_checked_on_the_merged_values(tmp_path: Path) -> None:
    path = _file(tmp_path, {"/**/power_source": {"ros__parameters": {"sunrise_h": 21.0}}})
    with pytest.raises(ConfigError, match=rf"^{path}, --param: power_source: .*sunset_h"):
        check_sources([path], {"power_source": {"sunset_h": 20.0}})  # each alone is in range


def test_wildcard_sections_apply_to_every_node_that_declares_the_name(tmp_path: Path) -> None:
    path = _file(
        tmp_path, {"/**": {"ros__parameters": {"power_profile": "pizero2w", "use_sim_time": True}}}
    )
    merged = check_sources([path])
    assert merged["camera_driver"]["power_profile"] == "pizero2w"
    assert all(v["use_sim_time"] is True for v in merged.values())
    with pytest.raises(ConfigError, match="no node declares parameter 'nonsense'"):
        check_sources([_file(tmp_path, {"/**": {"ros__parameters": {"nonsense": 1}}})])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[unclosed", "not valid YAML"),
        ("- a\n- b\n", "expected '/**/<node>: ros__parameters"),
        (
            "/**/camera_driver: {fps: 2.0}\n",
            "section '/**/camera_driver' has no 'ros__parameters'",
        ),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_params_file(path)
    assert expected in str(err.value)
    with pytest.raises(ConfigError, match="cannot read"):
        read_params_file(tmp_path / "missing.yaml")


def test_only_the_selected_nodes_are_merged_but_every_name_is_checked(tmp_path: Path) -> None:
    path = _file(tmp_path, default_parameters())
    merged = check_sources([path], nodes=[node("camera_driver")])
    assert set(merged) == {"camera_driver"}
    check_node_names(["camera_driver", "uploader"], "--nodes")
    with pytest.raises(ConfigError, match="--nodes: no node 'uplodaer'"):
        check_node_names(["uplodaer"], "--nodes")
