"""The node table: the one list of wildcam's nodes.

It drives ``launch/wildcam.launch.py``, ``wildcam bringup`` (separate processes and the composed
one-process mode), the executables CMake installs into ``lib/wildcam`` and the README's node
table. This module imports nothing from wildcam at import time, so CMake can run it as a plain
script::

    python3 src/wildcam/graph.py --executables
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

__all__ = ["DETECTIONS", "DETECTION_EVENTS", "NODES", "PACKAGE", "NodeSpec", "node"]

PACKAGE = "wildcam"
# The detections in vision_msgs' shape (wildcam/Detection2DArray), the topic vision_msgs users
# expect; wildcam's own consumers read the events with the event id, stages and crops
# (wildcam/DetectionArray) on their own topic.
DETECTIONS = "detections"
DETECTION_EVENTS = "detections/events"


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph.

    ``name`` is both the ROS node name and its section in the parameters YAML;
    ``executable`` is what ``ros2 run wildcam <executable>`` starts; ``module`` holds the node
    class ``node_class`` and a ``main()``; ``config`` (``module:Class``) is the frozen dataclass
    its parameters are declared from. Topics are ``(name, type)`` pairs, relative names.
    A ``managed`` node is a lifecycle node: bringup, the launch file and the power manager drive
    its transitions (:mod:`wildcam.lifecycle`).
    An ``on_request`` node (the simulated clock, the PIR reader) is started only when asked for
    by name (``wildcam bringup --with NAME``), or with the launch argument of its name
    (``sim_clock:=true``, ``pir_trigger:=true``).
    """

    name: str
    executable: str
    module: str
    node_class: str
    config: str
    respawn: bool
    summary: str
    publishes: tuple[tuple[str, str], ...] = ()
    subscribes: tuple[tuple[str, str], ...] = ()
    on_request: bool = False
    managed: bool = False

    @property
    def publishes_images(self) -> bool:
        """Whether the node publishes ``sensor_msgs/Image`` (large shared-memory samples)."""
        return any(kind == "sensor_msgs/Image" for _, kind in self.publishes)

    def node_type(self) -> type:
        """Import the node class (this imports rclpy)."""
        cls: type = getattr(importlib.import_module(self.module), self.node_class)
        return cls

    def config_type(self) -> type:
        """Import the config dataclass the node's parameters are declared from."""
        module, _, name = self.config.partition(":")
        cls: type = getattr(importlib.import_module(module), name)
        return cls


NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        name="camera_driver",
        executable="camera_driver",
        module="wildcam.nodes.camera_driver",
        node_class="CameraDriver",
        config="wildcam.camera.capture:CameraConfig",
        respawn=True,
        managed=True,
        summary="Captures frames (V4L2, video file, image folder or synthetic scene); publishes a "
        "reduced grey stream always and full frames only around motion.",
        publishes=(
            ("camera/small/image_raw", "sensor_msgs/Image"),
            ("camera/small/camera_info", "sensor_msgs/CameraInfo"),
            ("camera/image_raw", "sensor_msgs/Image"),
            ("camera/camera_info", "sensor_msgs/CameraInfo"),
            ("camera/image_raw/compressed", "sensor_msgs/CompressedImage"),
            ("/diagnostics", "diagnostic_msgs/DiagnosticArray"),
        ),
        subscribes=(
            ("camera/trigger", "wildcam/Trigger"),
            ("motion/events", "wildcam/MotionEvent"),
            ("motion/processed", "wildcam/FrameDone"),
            ("detections/processed", "wildcam/FrameDone"),
        ),
    ),
    NodeSpec(
        name="motion_detector",
        executable="motion_detector",
        module="wildcam.nodes.motion_detector",
        node_class="MotionDetector",
        config="wildcam.motion.config:MotionConfig",
        respawn=True,
        summary="Cheap background-motion gate on the reduced stream; publishes motion events "
        "with regions in full-frame pixels.",
        publishes=(
            ("motion/events", "wildcam/MotionEvent"),
            ("motion/processed", "wildcam/FrameDone"),
            ("/diagnostics", "diagnostic_msgs/DiagnosticArray"),
        ),
        subscribes=(
            ("camera/small/image_raw", "sensor_msgs/Image"),
            ("camera/small/camera_info", "sensor_msgs/CameraInfo"),
            ("camera/trigger", "wildcam/Trigger"),
        ),
    ),
    NodeSpec(
        name="cascade_detector",
        executable="cascade_detector",
        module="wildcam.nodes.cascade_detector",
        node_class="CascadeDetector",
        config="wildcam.cascade.config:CascadeConfig",
        respawn=True,
        summary="Model cascade on the full frames around motion: tiny ROI classifier, escalating "
        "only while unsure to the coarse look (the large model at 320) and the large model; "
        "smoothed per motion event.",
        publishes=(
            (DETECTION_EVENTS, "wildcam/DetectionArray"),
            (DETECTIONS, "wildcam/Detection2DArray"),
            ("detections/thumbnail", "sensor_msgs/CompressedImage"),
            ("detections/info", "wildcam/VisionInfo"),
            ("detections/processed", "wildcam/FrameDone"),
            ("energy", "wildcam/EnergyReport"),
            ("/diagnostics", "diagnostic_msgs/DiagnosticArray"),
        ),
        subscribes=(
            ("motion/events", "wildcam/MotionEvent"),
            ("camera/image_raw", "sensor_msgs/Image"),
        ),
    ),
    NodeSpec(
        name="uploader",
        executable="uploader",
        module="wildcam.nodes.uploader",
        node_class="Uploader",
        config="wildcam.upload.config:UploaderConfig",
        respawn=True,
        summary="Store-and-forward uploader: detections go into a durable on-disk queue first, "
        "then to the gateway in batches when power, time window, link and energy budget allow; "
        "applies signed over-the-air updates.",
        publishes=(
            ("uploader/status", "wildcam/UploadStatus"),
            ("energy", "wildcam/EnergyReport"),
            ("/diagnostics", "diagnostic_msgs/DiagnosticArray"),
        ),
        subscribes=(
            (DETECTION_EVENTS, "wildcam/DetectionArray"),
            ("power/state", "wildcam/PowerState"),
            ("uploader/check_updates", "std_msgs/Empty"),
        ),
    ),
    NodeSpec(
        name="power_source",
        executable="power_source",
        module="wildcam.nodes.power_source",
        node_class="PowerSource",
        config="wildcam.power.sources:PowerSourceConfig",
        respawn=True,
        summary="Battery and SoC temperature from sysfs, an INA219/INA260 current sensor "
        "(voltage, current, counted charge), a simulated battery (drained by the reported "
        "energy, charged by solar and charger windows), a bag, or fixed values.",
        publishes=(
            ("power/battery", "sensor_msgs/BatteryState"),
            ("power/temperature", "sensor_msgs/Temperature"),
            ("/diagnostics", "diagnostic_msgs/DiagnosticArray"),
        ),
        subscribes=(("energy", "wildcam/EnergyReport"),),
    ),
    NodeSpec(
        name="power_manager",
        executable="power_manager",
        module="wildcam.nodes.power_manager",
        node_class="PowerManager",
        config="wildcam.power.manager:ManagerConfig",
        respawn=True,
        summary="Operating mode from battery and temperature (hysteresis, dwell, critical tier, "
        "thermal and manual override) and device state (warm / watch / sleep from schedule, "
        "triggers and a lifetime target); pushes their parameters to every node; arms the RTC "
        "and sleeps; energy by state and stage, projected battery life; state kept across a "
        "sleep.",
        publishes=(
            ("power/state", "wildcam/PowerState"),
            ("power/energy_summary", "diagnostic_msgs/DiagnosticStatus"),
            ("/diagnostics", "diagnostic_msgs/DiagnosticArray"),
        ),
        subscribes=(
            ("power/battery", "sensor_msgs/BatteryState"),
            ("power/temperature", "sensor_msgs/Temperature"),
            ("energy", "wildcam/EnergyReport"),
            ("camera/trigger", "wildcam/Trigger"),
            (DETECTION_EVENTS, "wildcam/DetectionArray"),
            ("uploader/status", "wildcam/UploadStatus"),
        ),
    ),
    NodeSpec(
        name="sim_clock",
        executable="sim_clock",
        module="wildcam.nodes.sim_clock",
        node_class="SimClock",
        config="wildcam.power.simtime:SimClockConfig",
        respawn=True,
        summary="Simulated /clock at speed x wall time from start_time, for time-accelerated "
        "runs with use_sim_time.",
        publishes=(("/clock", "rosgraph_msgs/Clock"),),
        on_request=True,
    ),
    NodeSpec(
        name="pir_trigger",
        executable="pir_trigger",
        module="wildcam.nodes.pir_trigger",
        node_class="PirTrigger",
        config="wildcam.power.wake:PirConfig",
        respawn=True,
        summary="A PIR on a GPIO line (libgpiod) or a simulated one: each edge becomes a "
        "camera/trigger stamped with the edge time, with a hold-off against re-triggers.",
        publishes=(
            ("camera/trigger", "wildcam/Trigger"),
            ("/diagnostics", "diagnostic_msgs/DiagnosticArray"),
        ),
        on_request=True,
    ),
    NodeSpec(
        name="mqtt_bridge",
        executable="mqtt_bridge",
        module="wildcam.nodes.mqtt_bridge",
        node_class="MqttBridge",
        config="wildcam.fleet.config:BridgeConfig",
        respawn=True,
        summary="The trap on the fleet's MQTT broker: retained status, detection events, "
        "commands (mode, allow-listed parameters, status now, check for updates) with "
        "acknowledgements, Home Assistant discovery, a last will; through a durable outbox.",
        publishes=(
            ("uploader/check_updates", "std_msgs/Empty"),
            ("/diagnostics", "diagnostic_msgs/DiagnosticArray"),
        ),
        subscribes=(
            ("power/state", "wildcam/PowerState"),
            ("uploader/status", "wildcam/UploadStatus"),
            ("power/energy_summary", "diagnostic_msgs/DiagnosticStatus"),
            ("/diagnostics", "diagnostic_msgs/DiagnosticArray"),
            (DETECTION_EVENTS, "wildcam/DetectionArray"),
        ),
        on_request=True,
    ),
)


def node(name: str) -> NodeSpec:
    """Return the spec of the node called ``name`` (KeyError if there is none)."""
    for spec in NODES:
        if spec.name == name:
            return spec
    raise KeyError(f"no node {name!r} in the node table; known: {[n.name for n in NODES]}")


if __name__ == "__main__":  # used by CMakeLists.txt: one "executable:module" pair per line
    if sys.argv[1:] == ["--executables"]:
        print("\n".join(f"{n.executable}:{n.module}" for n in NODES))
    else:
        sys.exit("usage: graph.py --executables")
