"""Launch wildcam's graph on a ROS 2 install: ``ros2 launch wildcam wildcam.launch.py``.

The nodes come from the node table (``wildcam.graph.NODES``), the same table ``wildcam bringup``
starts, with the same parameters file. A node the table marks ``on_request`` (the simulated
clock, wake-source nodes) starts only with its own argument, e.g. ``sim_clock:=true``; the camera
can be left out (``camera:=false``) when a bag is played into the graph instead.

The middleware is left to the deployment: the user's ``FASTDDS_DEFAULT_PROFILES_FILE`` and
``ROS_AUTOMATIC_DISCOVERY_RANGE`` are kept unless ``fastdds_profile`` or ``discovery_range`` is
given. wildcam's shared-memory profile (``config/fastdds_shm.xml``) is opt-in:
``fastdds_profile:=<share>/config/fastdds_shm.xml``; it binds UDP to loopback, so it keeps the
graph on the device (use no profile, or your own, with ``discovery_range:=SUBNET``).

The camera is a managed (lifecycle) node: it is started with ``autostart`` false and the launch
file configures it each time its process starts (a respawn too) and activates it once it is
inactive, as nav2's lifecycle manager brings its nodes up.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    GroupAction,
    RegisterEventHandler,
    SetEnvironmentVariable,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessStart
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import LifecycleNode, Node, PushRosNamespace
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from lifecycle_msgs.msg import Transition

from wildcam.graph import NODES, PACKAGE

CAMERA_NODE = "camera_driver"
RESPAWN_MAX_RETRIES = 5  # as `wildcam bringup`: a node failing at every start is given up on


def _is_true(name: str) -> list:
    """A PythonExpression fragment: launch argument ``name`` is 'true' (any case)."""
    return ["'", LaunchConfiguration(name), "'.lower() == 'true'"]


def _is_set(name: str) -> IfCondition:
    """True when launch argument ``name`` is not empty."""
    return IfCondition(PythonExpression(["'", LaunchConfiguration(name), "' != ''"]))


def generate_launch_description() -> LaunchDescription:
    """One ``Node`` per node-table entry, inside a namespace group."""
    config = os.path.join(get_package_share_directory(PACKAGE), "config")
    on_request = [spec for spec in NODES if spec.on_request]
    arguments = [
        DeclareLaunchArgument(
            "params_file", default_value=os.path.join(config, "wildcam.yaml"),
            description="Parameters YAML with one section per node (default: the package's)."),
        DeclareLaunchArgument(
            "namespace", default_value="",
            description="Namespace for every wildcam node and topic (e.g. one per camera)."),
        DeclareLaunchArgument(
            "use_sim_time", default_value="false",
            description="Use /clock (e.g. from `ros2 bag play --clock`) instead of wall time; "
                        "sim_clock:=true implies it."),
        DeclareLaunchArgument(
            "camera", default_value="true",
            description="Start camera_driver; false when a bag (`ros2 bag play`) supplies the "
                        "camera topics instead."),
        *[DeclareLaunchArgument(
            spec.name, default_value="false",
            description=f"Also start {spec.name}: {spec.summary}") for spec in on_request],
        DeclareLaunchArgument(
            "fastdds_profile", default_value="",
            description="Fast DDS XML profile to set as FASTDDS_DEFAULT_PROFILES_FILE ('' keeps "
                        "the environment's); wildcam's shared-memory profile is "
                        f"{os.path.join(config, 'fastdds_shm.xml')}."),
        DeclareLaunchArgument(
            "discovery_range", default_value="",
            description="ROS_AUTOMATIC_DISCOVERY_RANGE to set ('' keeps the environment's): "
                        "LOCALHOST keeps the graph on the device, SUBNET lets other machines "
                        "see it."),
    ]
    sim_time_expr = ["(", *_is_true("use_sim_time"), ")"]
    if any(spec.name == "sim_clock" for spec in on_request):
        sim_time_expr += [" or (", *_is_true("sim_clock"), ")"]
    use_sim_time = ParameterValue(PythonExpression(sim_time_expr), value_type=bool)

    def condition(spec):  # type: ignore[no-untyped-def]
        if spec.on_request:
            return IfCondition(LaunchConfiguration(spec.name))
        if spec.name == CAMERA_NODE:
            return IfCondition(LaunchConfiguration("camera"))
        return None

    def make(spec):  # type: ignore[no-untyped-def]
        common = {"package": PACKAGE, "executable": spec.executable, "name": spec.name,
                  "output": "screen", "respawn": spec.respawn, "respawn_delay": 2.0,
                  "respawn_max_retries": RESPAWN_MAX_RETRIES, "condition": condition(spec)}
        if spec.name != CAMERA_NODE:
            return Node(parameters=[LaunchConfiguration("params_file"),
                                    {"use_sim_time": use_sim_time}], **common)
        return LifecycleNode(namespace="", parameters=[
            LaunchConfiguration("params_file"),
            {"use_sim_time": use_sim_time, "autostart": False}], **common)

    nodes = {spec.name: make(spec) for spec in NODES}
    camera = nodes[CAMERA_NODE]

    def change(transition: int) -> EmitEvent:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(camera),
                                           transition_id=transition))

    lifecycle = [
        RegisterEventHandler(OnProcessStart(target_action=camera, on_start=[
            change(Transition.TRANSITION_CONFIGURE)])),
        # After configuring only: a deactivation (the power manager's sleep) is left alone.
        RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=camera, start_state="configuring", goal_state="inactive",
            entities=[change(Transition.TRANSITION_ACTIVATE)])),
    ]
    return LaunchDescription([
        *arguments,
        SetEnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE",
                               LaunchConfiguration("fastdds_profile"),
                               condition=_is_set("fastdds_profile")),
        SetEnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE",
                               LaunchConfiguration("discovery_range"),
                               condition=_is_set("discovery_range")),
        GroupAction([PushRosNamespace(LaunchConfiguration("namespace")), *nodes.values(), *lifecycle]),
    ])
