"""Message conversion for the power nodes: readings to ``BatteryState``/``Temperature`` and back,
energy reports to ledger records. NaN stays NaN (unknown), as ``sensor_msgs/BatteryState`` says.
Incoming readings are checked (:func:`checked_battery`, :func:`checked_temperature`): an
implausible value becomes unknown and is reported.
"""

from __future__ import annotations

import math
from typing import Any

from builtin_interfaces.msg import Time as TimeMsg
from sensor_msgs.msg import BatteryState, Temperature

from wildcam.msg import EnergyReport, PowerState
from wildcam.power.energy import StageEnergy
from wildcam.power.policy import MODES, ModePolicy, PolicyInputs
from wildcam.power.sources import (
    PowerReading,
    charging_from_status,
    checked_reading,
    plausible,
)
from wildcam.power.states import StateDecision

__all__ = [
    "battery_msg",
    "charging_of",
    "checked_battery",
    "checked_temperature",
    "power_state",
    "report_stages",
    "stored_wh",
    "temperature_msg",
]

_BATTERY_FIELDS = {
    "percentage": "percentage",
    "voltage": "voltage",
    "current": "current",
    "charge_ah": "charge",
    "capacity_ah": "capacity",
    "design_capacity_ah": "design_capacity",
    "battery_temperature_c": "temperature",
}


def checked_battery(msg: BatteryState) -> tuple[str, ...]:
    """Make every implausible field of ``msg`` NaN (unknown), in place; the problems."""
    values: dict[str, Any] = {f: float(getattr(msg, m)) for f, m in _BATTERY_FIELDS.items()}
    reading = PowerReading(**values)
    checked, problems = checked_reading(reading)
    for field, name in _BATTERY_FIELDS.items():
        setattr(msg, name, getattr(checked, field))
    return problems


def checked_temperature(celsius: float) -> tuple[float, str]:
    """``celsius``, or NaN with the reason when it is not a plausible temperature."""
    if math.isnan(celsius) or plausible("temperature_c", celsius):
        return celsius, ""
    return math.nan, f"temperature_c={celsius!r} is implausible: treated as unknown"


_STATUS = {
    True: BatteryState.POWER_SUPPLY_STATUS_CHARGING,
    False: BatteryState.POWER_SUPPLY_STATUS_DISCHARGING,
    None: BatteryState.POWER_SUPPLY_STATUS_UNKNOWN,
}


def battery_msg(reading: PowerReading, stamp: TimeMsg, frame_id: str = "battery") -> BatteryState:
    """The ``BatteryState`` of a reading (unknown fields NaN, status UNKNOWN)."""
    msg = BatteryState(
        voltage=reading.voltage,
        temperature=reading.battery_temperature_c,
        current=reading.current,
        charge=reading.charge_ah,
        capacity=reading.capacity_ah,
        design_capacity=reading.design_capacity_ah,
        percentage=reading.percentage,
        power_supply_status=_STATUS[reading.charging],
        power_supply_health=BatteryState.POWER_SUPPLY_HEALTH_UNKNOWN,
        power_supply_technology=BatteryState.POWER_SUPPLY_TECHNOLOGY_UNKNOWN,
        present=reading.present,
    )
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    return msg


def temperature_msg(celsius: float, stamp: TimeMsg, frame_id: str = "soc") -> Temperature:
    """A ``Temperature`` (variance 0: unknown)."""
    msg = Temperature(temperature=celsius, variance=0.0)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    return msg


def charging_of(msg: BatteryState) -> bool | None:
    """Charging (or full on a charger), discharging, or unknown."""
    return charging_from_status(msg.power_supply_status)


def stored_wh(msg: BatteryState) -> float:
    """Energy left: charge x voltage, else percentage x capacity x voltage (NaN if unknown)."""
    if not math.isnan(msg.charge):
        return msg.charge * msg.voltage
    return msg.percentage * msg.capacity * msg.voltage


def report_stages(msg: EnergyReport) -> list[StageEnergy]:
    """The ledger records of an ``EnergyReport``."""
    return [
        StageEnergy(s.stage, s.count, s.cpu_seconds, s.device_seconds, s.joules)
        for s in msg.stages
    ]


def power_state(
    policy: ModePolicy, state: StateDecision, inputs: PolicyInputs, stamp: TimeMsg
) -> PowerState:
    """The power manager's ``power/state``: mode, device state, their reasons and inputs."""
    msg = PowerState(
        mode=MODES.index(policy.mode),
        mode_name=policy.mode,
        reason=policy.reason,
        battery_percentage=inputs.battery,
        temperature=inputs.temperature_c,
        charging=bool(inputs.charging),
        manual_override=bool(inputs.override),
        device_state=state.state,
        device_state_reason=state.reason,
    )
    msg.header.stamp = stamp
    return msg
