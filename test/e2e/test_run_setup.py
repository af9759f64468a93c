"""How ``wildcam run`` sets the graph up (no ROS): scene, per-node values, the run's policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from wildcam.errors import ConfigError
from wildcam.graph import NodeSpec
from wildcam.run.plan import (
    CAMERA_HELD,
    DAY_DEVICE,
    Endpoints,
    RunOptions,
    Timing,
    held_policy,
    node_overrides,
    node_parameters,
    run_scene,
    wanted_parameters,
)


def _spec(name: str, publishes: tuple[str, ...]) -> NodeSpec:
    return NodeSpec(
        name=name,
        executable=name,
        module="m",
        node_class="C",
        config="m:C",
        respawn=True,
        summary="",
        publishes=tuple((t, "x/Y") for t in publishes),
    )


SPECS = [
    _spec("camera_driver", ("camera/camera_info",)),
    _spec("clock_node", ("/clock",)),
    _spec("battery", ("power/battery",)),
    _spec("manager", ("power/state",)),
    _spec("up", ("uploader/status",)),
]


def test_the_day_scene_is_compressed_and_cut() -> None:
    scene = run_scene(RunOptions(day_length_s=120.0, duration_s=50.0))
    assert scene.day_length_s == 120.0 and scene.duration_s == 50.0
    assert all(v.end_s <= 50.0 for v in scene.visits) and len(scene.visits) == 2
    with pytest.raises(ConfigError):
        run_scene(RunOptions(preset="default", day_length_s=60.0))


WHERE = Endpoints(
    scene_uri="scene.json",
    gateway_url="http://gw",
    token_file="tok",
    state_dir=Path("/state"),
    policy_file="policy.yaml",
)


def test_values_by_role() -> None:
    options = RunOptions(speed=2.0, params=("battery.initial_soc=0.9", "up.enabled=false"))
    wanted = wanted_parameters(
        options, SPECS, Timing(fps=10.0, frames=100, time_scale=360.0), WHERE
    )
    assert wanted["camera_driver"]["fps"] == 20.0 and wanted["camera_driver"]["enabled"] is False
    # paused until the camera starts, at midsummer midnight (scene second 0, day start 0)
    assert wanted["clock_node"] == {"speed": 0.0, "start_time": 1_782_000_000}
    assert wanted["battery"]["use_sim_time"] and wanted["manager"]["use_sim_time"]
    assert wanted["battery"]["initial_soc"] == 0.9  # --param has the last word
    assert wanted["manager"]["state_file"] == "/state/power.json"
    assert wanted["manager"]["policy_file"] == "policy.yaml"
    assert wanted["up"]["gateway_url"] == "http://gw" and wanted["up"]["enabled"] is False
    with pytest.raises(ConfigError):
        wanted_parameters(RunOptions(params=("no_dot=1",)), SPECS, Timing(10.0, 1), WHERE)


def test_the_day_runs_every_profiled_node_as_the_day_device() -> None:
    defaults = {"camera_driver": {"fps": 10.0, "power_profile": "rpi4b"}, "battery": {}}
    params, missing = node_parameters(RunOptions(), SPECS, defaults, {"battery": {"x": 1}})
    assert params == {"camera_driver": {"fps": 10.0, "power_profile": DAY_DEVICE}, "battery": {}}
    assert missing == ["battery.x"]
    params, _ = node_parameters(RunOptions(preset="default"), SPECS, defaults, {})
    assert params["camera_driver"]["power_profile"] == "rpi4b"


def test_overrides_keep_declared_parameters_and_name_the_rest() -> None:
    defaults = {"battery": {"initial_soc": 0.6}, "camera_driver": {"fps": 10.0}}
    kept, missing = node_overrides(
        SPECS,
        defaults,
        {
            "battery": {"initial_soc": 0.4, "time_scale": 360.0, "use_sim_time": True},
            "ghost": {"x": 1},
        },
    )
    assert kept == {"battery": {"initial_soc": 0.4, "use_sim_time": True}}
    assert missing == ["battery.time_scale", "ghost.x"]


def test_run_policy_leaves_the_camera_to_the_scene() -> None:
    policy = held_policy()
    for sets in policy["modes"].values():
        assert not set(CAMERA_HELD) & set(sets.get("camera_driver", {}))
    assert policy["modes"]["low_power"]["cascade_detector"]["max_stage"] == 2  # the rest stays


def test_a_run_starts_on_request_nodes_only_when_asked() -> None:
    from wildcam.run.plan import run_specs

    default = {s.name for s in run_specs()}
    assert "sim_clock" in default  # the power nodes run on the simulated day
    assert not {"mqtt_bridge", "pir_trigger"} & default  # no broker; the run plays the PIR
    assert default >= {"camera_driver", "cascade_detector", "uploader"}
    bridged = {s.name for s in run_specs(("mqtt_bridge", "pir_trigger"))}
    assert bridged == default | {"mqtt_bridge"}
    with pytest.raises(ConfigError, match="--with: no node 'mqtt'"):
        run_specs(("mqtt",))
