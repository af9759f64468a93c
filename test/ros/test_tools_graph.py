"""``wildcam param`` and ``wildcam topic`` against a running node, and how nodes refuse a bad
configuration (exit code EXIT_CONFIG, one line, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sensor_msgs.msg import CameraInfo

from wildcam.config_check import check_sources
from wildcam.errors import EXIT_CONFIG
from wildcam.ros.qos import SENSOR_SUB

pytestmark = pytest.mark.graph
NODE = "wildcam.nodes.camera_driver"
WILDCAM = Path(sys.executable).parent / "wildcam"


def _tool(probe, procs):  # type: ignore[no-untyped-def]
    """``wildcam ARGS`` in the test's domain, run while the probe spins (its node answers
    parameter calls too, as every node of a graph does)."""
    return lambda *args: _wildcam(probe, procs.env, *args)


def _wildcam(probe, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    proc = subprocess.Popen(
        [str(WILDCAM), *args, "--timeout", "10"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert probe.spin_until(lambda: proc.poll() is not None, 60.0), args
    out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_param_list_get_set_dump_like_ros2_param(probe, procs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    infos = probe.collect(CameraInfo, "camera/small/camera_info", SENSOR_SUB)
    procs.node(NODE, "-p", "fps:=5.0", "-p", "width:=160", "-p", "height:=120")
    assert probe.spin_until(lambda: len(infos) >= 1, 30.0)
    wildcam = _tool(probe, procs)
    listed = wildcam("param", "list")
    assert listed.returncode == 0, listed.stderr
    assert "/camera_driver:\n" in listed.stdout and "\n  fps\n" in listed.stdout
    assert wildcam("param", "list", "/camera_driver").stdout.startswith("  ")
    got = wildcam("param", "get", "/camera_driver", "fps")
    assert got.stdout.strip() == "Double value is: 5.0", got.stderr
    assert (
        wildcam("param", "get", "camera_driver", "source").stdout.strip()
        == "String value is: synthetic"
    )
    done = wildcam("param", "set", "/camera_driver", "fps", "2")  # int for a double
    assert (done.returncode, done.stdout.strip()) == (0, "Set parameter successful")
    assert (
        wildcam("param", "get", "/camera_driver", "fps").stdout.strip() == "Double value is: 2.0"
    )
    refused = wildcam("param", "set", "/camera_driver", "fps", "1000")
    assert refused.returncode == 2 and "Setting parameter failed" in refused.stderr
    assert "fps" in refused.stderr and "Traceback" not in refused.stderr
    unknown = wildcam("param", "get", "/camera_driver", "fsp")
    assert unknown.returncode == 2 and "no parameter(s) ['fsp']" in unknown.stderr
    dumped = wildcam("param", "dump", "/camera_driver")
    assert dumped.returncode == 0, dumped.stderr
    data = yaml.safe_load(dumped.stdout)
    assert list(data) == ["/**/camera_driver"]
    assert data["/**/camera_driver"]["ros__parameters"]["fps"] == 2.0
    path = tmp_path / "dump.yaml"
    path.write_text(dumped.stdout)
    assert check_sources([path])["camera_driver"]["fps"] == 2.0  # what --params-file reads


def test_topic_list_echo_hz_like_ros2_topic(probe, procs) -> None:  # type: ignore[no-untyped-def]
    infos = probe.collect(CameraInfo, "camera/small/camera_info", SENSOR_SUB)
    procs.node(NODE, "-p", "fps:=10.0", "-p", "width:=160", "-p", "height:=120")
    assert probe.spin_until(lambda: len(infos) >= 1, 30.0)
    wildcam = _tool(probe, procs)
    listed = wildcam("topic", "list", "-t")
    assert "/camera/small/camera_info [sensor_msgs/msg/CameraInfo]" in listed.stdout, listed.stdout
    echoed = wildcam("topic", "echo", "/camera/small/camera_info", "--once")
    assert echoed.returncode == 0, echoed.stderr
    message = yaml.safe_load(echoed.stdout.split("---")[0])
    assert (message["width"], message["height"]) == (160, 120)
    assert echoed.stdout.rstrip().endswith("---")
    hz = wildcam(
        "topic", "hz", "camera/small/camera_info", "sensor_msgs/msg/CameraInfo", "--duration", "4"
    )
    assert hz.returncode == 0, hz.stderr
    rates = [
        float(line.split(":")[1])
        for line in hz.stdout.splitlines()
        if line.startswith("average rate:")
    ]
    assert rates and all(1.0 < r < 20.0 for r in rates), hz.stdout  # about 10 Hz
    assert "\tmin: " in hz.stdout and "window: " in hz.stdout


@pytest.mark.parametrize("bad", ["fps:=1000.0", "fps:=abc", "fsp:=2.0"])
def test_a_node_refuses_a_bad_configuration_with_exit_config(ros_env, bad: str) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", NODE, "--ros-args", "-p", bad],
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert "cannot start CameraDriver (configuration error)" in result.stderr
    assert bad.split(":=")[0] in result.stderr
    assert "Traceback" not in result.stderr + result.stdout  # bug: destroy_node of a half node


def test_a_node_names_the_parameters_file_it_refuses(ros_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "params.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "/**/camera_driver": {"ros__parameters": {"fps": 1000.0}},
                "/**": {"ros__parameters": {"pixel_threshold": 18}},  # another node's: not ours
                "/**/motion_detector": {"ros__parameters": {"pixel_threshold": -1}},
            }
        )
    )  # not ours
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            NODE,
            "--ros-args",
            "-r",
            "__node:=camera_driver",
            "--params-file",
            str(path),
        ],
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == EXIT_CONFIG
    assert result.stderr.strip() == (
        f"wildcam: configuration error: {path}: "
        "camera_driver.fps=1000.0: allowed: float in [0.1, 60.0]"
    )
