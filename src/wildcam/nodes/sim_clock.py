"""sim_clock: publishes ``/clock`` at ``speed`` x wall time from ``start_time`` for
time-accelerated runs; every other node runs with ``use_sim_time:=true``.

Its own timer runs on the steady wall clock, so it ticks even when started with use_sim_time.
"""

from __future__ import annotations

import time
from typing import Any

from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from rosgraph_msgs.msg import Clock as ClockMsg

from wildcam.power.simtime import SimClockConfig, SimTime
from wildcam.ros.params import ParameterBinding
from wildcam.ros.runner import main_for

# As rclpy's TimeSource subscribes /clock.
CLOCK_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE
)


class SimClock(Node):
    """Publishes :class:`SimTime` at ``rate_hz`` wall."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sim_clock", **kwargs)
        self.params = ParameterBinding(self, SimClockConfig, self.on_parameters)
        cfg = self.params.config
        self.time = SimTime(cfg.start_time or time.time())
        self.pub = self.create_publisher(ClockMsg, "/clock", CLOCK_QOS)
        self.timer = self.create_timer(
            1.0 / cfg.rate_hz, self.tick_callback, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )

    def on_parameters(self, old: SimClockConfig, new: SimClockConfig) -> None:
        """Speed applies from the next tick; the publishing rate at once."""
        if new.rate_hz != old.rate_hz:
            self.timer.timer_period_ns = int(1e9 / new.rate_hz)
            self.timer.reset()

    def tick_callback(self) -> None:
        """Publish the simulated time now."""
        sim_s = self.time.advance(self.params.config.speed)
        self.pub.publish(ClockMsg(clock=Time(nanoseconds=int(sim_s * 1e9)).to_msg()))


def main() -> int:
    """``ros2 run wildcam sim_clock``."""
    return main_for(SimClock)


if __name__ == "__main__":
    raise SystemExit(main())
