"""QoS profiles for wildcam topics."""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

__all__ = ["EVENTS", "LATCHED", "SENSOR_BEST_EFFORT", "SENSOR_PUB", "SENSOR_SUB"]

# Camera streams are published reliable so both reliable (recorders, tests) and best-effort
# (sensor-data) subscribers match; a shallow keep-last queue never lets old frames pile up.
SENSOR_PUB = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
# Frames that feed the motion gate: reliable over loopback/shared memory; they are small.
SENSOR_SUB = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                        reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)
# Consumers of full frames that would rather drop than lag may use the ROS sensor-data profile.
SENSOR_BEST_EFFORT = qos_profile_sensor_data
# Events are few and each matters.
EVENTS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                    reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.VOLATILE)
# State that late joiners must see (power mode).
LATCHED = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                     reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
