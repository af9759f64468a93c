"""The ``bag`` power source: battery and temperature replayed from a rosbag2 bag (a bag tool,
so the pure power logic does not depend on the bag readers)."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from wildcam.bags.storage import messages, open_bag
from wildcam.bags.typestore import typestore
from wildcam.errors import BagError
from wildcam.power.sources import PowerReading, charging_from_status

__all__ = ["BagSource"]

NAN = math.nan


class BagSource:
    """Replays battery and temperature messages of a bag, relative to the first read."""

    name = "bag"

    def __init__(self, bag: str | Path, loop: bool = True) -> None:
        store = typestore()
        battery: list[tuple[int, PowerReading]] = []
        temps: list[tuple[int, float]] = []
        with open_bag(Path(bag)) as reader:
            conns = [
                c
                for c in reader.connections
                if c.msgtype in ("sensor_msgs/msg/BatteryState", "sensor_msgs/msg/Temperature")
            ]
            for conn, stamp, raw in messages(reader, conns):
                try:
                    msg: Any = store.deserialize_cdr(raw, conn.msgtype)
                except Exception as err:  # rosbags raises many kinds
                    raise BagError(f"cannot decode {conn.topic} in {bag}: {err}") from err
                if conn.msgtype.endswith("BatteryState"):
                    battery.append((stamp, _from_battery_msg(msg)))
                else:
                    temps.append((stamp, float(msg.temperature)))
        if not battery and not temps:
            raise BagError(f"bag {bag} holds no BatteryState or Temperature messages")
        starts = [s for s, _ in battery[:1]] + [s for s, _ in temps[:1]]
        self._t0, self._loop = min(starts), loop
        end = max([s for s, _ in battery[-1:]] + [s for s, _ in temps[-1:]])
        self._length = max(1, end - self._t0 + 1)
        self._battery, self._temps = battery, temps
        self._start_s: float | None = None

    @staticmethod
    def _at(items: Sequence[tuple[int, Any]], key: int) -> Any:
        i = bisect.bisect_right([s for s, _ in items], key) - 1
        return items[i][1] if i >= 0 else None

    def read(self, now_s: float) -> PowerReading:
        """The latest recorded values at ``now_s`` relative to the first call."""
        if self._start_s is None:
            self._start_s = now_s
        offset = int((now_s - self._start_s) * 1e9)
        if self._loop:
            offset %= self._length
        key = self._t0 + offset
        reading = self._at(self._battery, key)
        temp = self._at(self._temps, key)
        base = reading if isinstance(reading, PowerReading) else PowerReading()
        return replace(base, temperature_c=float(temp) if temp is not None else NAN)

    def close(self) -> None:
        """Nothing to free (the bag was read at open)."""


def _from_battery_msg(msg: Any) -> PowerReading:
    def get(name: str) -> float:
        return float(getattr(msg, name))

    return PowerReading(
        percentage=get("percentage"),
        voltage=get("voltage"),
        current=get("current"),
        charge_ah=get("charge"),
        capacity_ah=get("capacity"),
        design_capacity_ah=get("design_capacity"),
        charging=charging_from_status(int(msg.power_supply_status)),
        present=bool(msg.present),
        battery_temperature_c=get("temperature"),
    )
