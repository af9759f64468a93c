"""Battery and temperature messages from anyone on the graph are checked before the power
manager uses them: implausible values are unknown, never a reason to switch modes."""

from __future__ import annotations

import math

from sensor_msgs.msg import BatteryState

from wildcam.ros.power import checked_battery, checked_temperature


def test_a_negative_or_infinite_battery_message_is_unknown() -> None:
    for bad in (-1.0, 1e9, math.inf):
        msg = BatteryState(percentage=bad, voltage=3.8, temperature=25.0)
        problems = checked_battery(msg)
        assert math.isnan(msg.percentage) and msg.voltage == 3.8 and len(problems) == 1
    msg = BatteryState(percentage=0.4, voltage=math.inf, temperature=-500.0)
    assert len(checked_battery(msg)) == 2
    assert msg.percentage == 0.4 and math.isnan(msg.voltage) and math.isnan(msg.temperature)


def test_an_implausible_temperature_is_unknown() -> None:
    assert checked_temperature(40.0) == (40.0, "")
    value, problem = checked_temperature(1e9)
    assert math.isnan(value) and "implausible" in problem
    assert math.isnan(checked_temperature(math.nan)[0]) and checked_temperature(math.nan)[1] == ""
