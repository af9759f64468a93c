"""Launch wildcam's graph on a ROS 2 install: ``ros2 launch wildcam wildcam.launch.py``.

The nodes come from the node table (``wildcam.graph.NODES``), the same table ``wildcam bringup``
starts, with the same parameters file.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.parameter_descriptions import ParameterValue

from wildcam.graph import NODES, PACKAGE


def generate_launch_description() -> LaunchDescription:
    """One ``Node`` per node-table entry, inside a namespace group."""
    config = os.path.join(get_package_share_directory(PACKAGE), "config")
    arguments = [
        DeclareLaunchArgument(
            "params_file", default_value=os.path.join(config, "wildcam.yaml"),
            description="Parameters YAML with one section per node (default: the package's)."),
        DeclareLaunchArgument(
            "namespace", default_value="",
            description="Namespace for every wildcam node and topic (e.g. one per camera)."),
        DeclareLaunchArgument(
            "use_sim_time", default_value="false",
            description="Use /clock (e.g. from `ros2 bag play --clock`) instead of wall time."),
        DeclareLaunchArgument(
            "fastdds_profile", default_value=os.path.join(config, "fastdds_shm.xml"),
            description="Fast DDS XML profile (shared memory for full frames); '' for none."),
        DeclareLaunchArgument(
            "discovery_range", default_value="LOCALHOST",
            description="ROS_AUTOMATIC_DISCOVERY_RANGE: LOCALHOST keeps the graph on the device; "
                        "SUBNET lets other machines see it."),
    ]
    arguments += [DeclareLaunchArgument(spec.name, default_value="false",
                                        description=f"Also start {spec.name}: {spec.summary}")
                  for spec in NODES if spec.on_request]
    use_sim_time = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)
    nodes = [
        Node(package=PACKAGE, executable=spec.executable, name=spec.name, output="screen",
             parameters=[LaunchConfiguration("params_file"), {"use_sim_time": use_sim_time}],
             respawn=spec.respawn, respawn_delay=2.0,
             condition=IfCondition(LaunchConfiguration(spec.name)) if spec.on_request else None)
        for spec in NODES
    ]
    return LaunchDescription([
        *arguments,
        SetEnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE",
                               LaunchConfiguration("fastdds_profile")),
        SetEnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE",
                               LaunchConfiguration("discovery_range")),
        GroupAction([PushRosNamespace(LaunchConfiguration("namespace")), *nodes]),
    ])
