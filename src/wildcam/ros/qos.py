"""QoS profiles for wildcam topics, and the QoS overrides every camera and motion topic accepts.

Entities created with ``qos_overriding_options=OVERRIDABLE`` declare read-only parameters
``qos_overrides.<topic>.<publisher|subscription>.<history|depth|reliability>`` that a
deployment sets in its parameters file, as rclcpp and rclpy nodes of the core packages do.
"""

from __future__ import annotations

import copy

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSPolicyKind,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rclpy.qos_overriding_options import QoSOverridingOptions

__all__ = [
    "EVENTS",
    "IMAGE_SUB",
    "LATCHED",
    "OVERRIDABLE",
    "SENSOR_BEST_EFFORT",
    "SENSOR_PUB",
    "SENSOR_SUB",
    "own",
]

# Camera streams are published reliable so both reliable (recorders, tests) and best-effort
# (sensor-data) subscribers match; a shallow keep-last queue never lets old frames pile up.
SENSOR_PUB = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=5,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
# The nodes' image subscribers: the sensor-data profile (best effort, REP-2003), with a queue
# deep enough for the burst of buffered full frames the camera releases when motion starts.
IMAGE_SUB = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=10,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)
# Recorders and tests that must see every frame: reliable (the publishers are reliable).
SENSOR_SUB = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
# Consumers of full frames that would rather drop than lag may use the ROS sensor-data profile.
SENSOR_BEST_EFFORT = qos_profile_sensor_data
# Events are few and each matters.
EVENTS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=50,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
# State that late joiners must see (power mode).
LATCHED = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
# History, depth and reliability may be overridden per topic through parameters.
OVERRIDABLE = QoSOverridingOptions(
    [QoSPolicyKind.HISTORY, QoSPolicyKind.DEPTH, QoSPolicyKind.RELIABILITY]
)


def own(profile: QoSProfile) -> QoSProfile:
    """A copy of ``profile`` for one overridable entity: rclpy writes the overrides into the
    profile it is given, which must not change the shared constants above."""
    return copy.copy(profile)
