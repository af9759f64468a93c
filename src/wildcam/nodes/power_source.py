"""power_source: publishes ``power/battery`` (sensor_msgs/BatteryState) and ``power/temperature``
(sensor_msgs/Temperature) from one backend: sysfs, a simulated battery, a bag, or fixed values.

The simulated battery subscribes ``energy`` and drains what every node reports, plus the
profile's idle power, against its solar curve and charger windows (all live parameters).
Unknown values are NaN in BatteryState; an unknown temperature is not published.
"""

from __future__ import annotations

import math
from typing import Any

from rclpy.node import Node
from sensor_msgs.msg import BatteryState, Temperature

from wildcam.msg import EnergyReport
from wildcam.power.sources import (
    PowerSourceConfig,
    SimulatedSource,
    checked_reading,
    make_power_source,
)
from wildcam.ros.diagnostics import Health
from wildcam.ros.energy import ENERGY_QOS
from wildcam.ros.params import ParameterBinding
from wildcam.ros.power import battery_msg, temperature_msg
from wildcam.ros.runner import main_for


class PowerSource(Node):
    """One backend, read every ``period_s`` of the node clock."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("power_source", **kwargs)
        self.health = Health(self)
        self.params = ParameterBinding(self, PowerSourceConfig, self.on_parameters)
        cfg = self.params.config
        self.source = make_power_source(cfg)
        self.pub_battery = self.create_publisher(BatteryState, "power/battery", 10)
        self.pub_temperature = self.create_publisher(Temperature, "power/temperature", 10)
        if isinstance(self.source, SimulatedSource):
            self.create_subscription(
                EnergyReport,
                "energy",
                self.health.guard("energy")(self.energy_callback),
                ENERGY_QOS,
            )
        self.timer = self.create_timer(cfg.period_s, self.health.guard("read")(self.read_callback))

    def on_parameters(self, old: PowerSourceConfig, new: PowerSourceConfig) -> None:
        """Period and the simulated environment change live."""
        if new.period_s != old.period_s:
            self.timer.timer_period_ns = int(new.period_s * 1e9)
            self.timer.reset()
        reconfigure = getattr(self.source, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(new)

    def energy_callback(self, msg: EnergyReport) -> None:
        """Drain the simulated battery by what a node reported."""
        assert isinstance(self.source, SimulatedSource)
        self.source.draw(sum(s.joules for s in msg.stages))
        self.health.count("energy_reports")

    def read_callback(self) -> None:
        """Read the backend and publish."""
        now = self.get_clock().now()
        if now.nanoseconds == 0:  # simulated time before the first /clock
            return
        reading, problems = checked_reading(self.source.read(now.nanoseconds * 1e-9))
        for problem in problems:
            self.health.error("reading", problem)
        stamp = now.to_msg()
        self.pub_battery.publish(battery_msg(reading, stamp))
        if not math.isnan(reading.temperature_c):
            self.pub_temperature.publish(temperature_msg(reading.temperature_c, stamp))
        self.health.values["battery"] = f"{reading.percentage:.3f}"
        self.health.values["temperature_c"] = f"{reading.temperature_c:.1f}"
        self.health.count("readings")

    def destroy_node(self) -> None:
        """Close the backend with the node (there is none when it failed to open)."""
        source = getattr(self, "source", None)
        if source is not None:
            source.close()
        super().destroy_node()


def main() -> int:
    """``ros2 run wildcam power_source``."""
    return main_for(PowerSource)


if __name__ == "__main__":
    raise SystemExit(main())
