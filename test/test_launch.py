"""Launch test of launch/wildcam.launch.py with launch_pytest, on a ROS 2 install.

launch, launch_ros and launch_pytest are not published on PyPI, so on a machine set up from the
`ros-*` wheels this module skips; test/test_bringup_graph.py runs the same scenario through
`wildcam bringup`, which starts the same node table with the same parameters file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

launch_pytest = pytest.importorskip(
    "launch_pytest",
    reason="launch_pytest is not installable here (only from a ROS 2 install, e.g. "
    "apt install ros-kilted-launch-pytest); test/test_bringup_graph.py covers the same "
    "scenario",
)
launch = pytest.importorskip("launch")
launch_description_sources = pytest.importorskip("launch.launch_description_sources")

import rclpy  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402

from wildcam.graph import NODES  # noqa: E402
from wildcam.ros.qos import SENSOR_SUB  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[1] / "launch" / "wildcam.launch.py"
pytestmark = pytest.mark.launch


@launch_pytest.fixture
def launch_description():  # type: ignore[no-untyped-def]
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    source = launch_description_sources.PythonLaunchDescriptionSource(str(LAUNCH_FILE))
    return launch.LaunchDescription(
        [
            launch.actions.IncludeLaunchDescription(source),
            launch_pytest.actions.ReadyToTest(),
        ]
    )


@pytest.mark.launch(fixture=launch_description)
def test_launch_brings_up_every_node_and_frames_flow() -> None:
    rclpy.init()
    node = rclpy.create_node("launch_test_probe")
    frames: list[CameraInfo] = []
    # Every captured frame has its small camera_info: they flow once the launch file has
    # configured and activated the managed camera.
    node.create_subscription(CameraInfo, "camera/small/camera_info", frames.append, SENSOR_SUB)
    try:
        import time

        end = time.monotonic() + 30.0
        names: set[str] = set()
        expected = {n.name for n in NODES if not n.on_request}  # sim_clock etc. need their arg
        while time.monotonic() < end and not (expected <= names and frames):
            rclpy.spin_once(node, timeout_sec=0.1)
            names = {n for n, _ in node.get_node_names_and_namespaces()}
        assert expected <= names
        assert frames
    finally:
        node.destroy_node()
        rclpy.shutdown()
