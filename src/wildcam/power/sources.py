"""Battery and temperature sources behind one Protocol, keyed by name.

``sysfs``      Linux ``/sys/class/power_supply`` (battery gauge, mains/USB online) and
               ``/sys/class/thermal`` (SoC temperature);
``simulated``  a :class:`~wildcam.power.battery.SimBattery` drained by the energy the stack
               reports (:meth:`SimulatedSource.draw`) and charged by solar and charger windows;
``bag``        replays ``sensor_msgs/BatteryState`` and ``Temperature`` from a rosbag2 bag
               (:mod:`wildcam.bags.power`: it sits with the bag tools);
``fixed``      constant readings (a trap without a gauge; tests);
``ina219``,    a TI current/voltage sensor on I2C in the battery's output: voltage, current,
``ina260``     and the charge counted from them (:mod:`wildcam.power.ina`).

Every reading is a :class:`PowerReading`; what a backend does not know is NaN (or ``None`` for
the charging flag), never zero, as ``sensor_msgs/BatteryState`` prescribes. A value outside its
physical range (:data:`PLAUSIBLE`: a state of charge outside [0, 1], an infinite or negative
voltage, a temperature colder than -60 °C) is a broken gauge or a hostile publisher, not a
reading: :func:`checked_reading` makes it unknown and says why, so it can never switch the
device to critical (or keep it out of critical) by itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from wildcam.errors import ConfigError
from wildcam.params import check_ranges, param, power_profile_param
from wildcam.power.battery import Environment, SimBattery, parse_windows
from wildcam.power.profile import load_profile

__all__ = [
    "BACKENDS",
    "PLAUSIBLE",
    "FixedSource",
    "PowerReading",
    "PowerSource",
    "PowerSourceConfig",
    "SimulatedSource",
    "SysfsSource",
    "charging_from_status",
    "checked_reading",
    "make_power_source",
    "plausible",
]

NAN = math.nan

# Plausibility bounds of readings (input validation, not figures of any energy estimate):
# percentage: BatteryState defines 0..1; voltage: 0..60 V covers every pack wildcam targets
# (1S Li-ion 3-4.2 V up to a 12 V lead-acid or 4S pack, and the 5 V USB supply) with margin;
# current: |I| <= 50 A is far beyond a camera trap's few amperes; charge/capacity: 0..1000 Ah;
# temperatures: -60..150 °C spans the coldest field deployments and SoC thermal trip points
# (typically 85-125 °C) with margin.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "percentage": (0.0, 1.0),
    "voltage": (0.0, 60.0),
    "current": (-50.0, 50.0),
    "charge_ah": (0.0, 1000.0),
    "capacity_ah": (0.0, 1000.0),
    "design_capacity_ah": (0.0, 1000.0),
    "battery_temperature_c": (-60.0, 150.0),
    "temperature_c": (-60.0, 150.0),
}


def plausible(name: str, value: float) -> bool:
    """Whether ``value`` of reading field ``name`` is finite and within :data:`PLAUSIBLE`."""
    low, high = PLAUSIBLE[name]
    return math.isfinite(value) and low <= value <= high


@dataclass(frozen=True)
class PowerReading:
    """One reading of battery and temperature; NaN / None = unknown."""

    percentage: float = NAN  # state of charge 0..1
    voltage: float = NAN  # V
    current: float = NAN  # A, negative while discharging (BatteryState convention)
    charge_ah: float = NAN
    capacity_ah: float = NAN
    design_capacity_ah: float = NAN
    charging: bool | None = None
    present: bool = False
    battery_temperature_c: float = NAN
    temperature_c: float = NAN  # SoC / board temperature

    @property
    def energy_wh(self) -> float:
        """Stored energy, from charge and voltage (NaN when either is unknown)."""
        return self.charge_ah * self.voltage


def charging_from_status(status: int) -> bool | None:
    """``sensor_msgs/BatteryState.power_supply_status`` as the charging flag: charging or full
    (on a charger) is charging, discharging or not charging is not, anything else unknown."""
    return {1: True, 4: True, 2: False, 3: False}.get(status)  # CHARGING, FULL, DIS-, NOT_


def checked_reading(reading: PowerReading) -> tuple[PowerReading, tuple[str, ...]]:
    """``reading`` with every implausible value made unknown (NaN), and one line per value
    changed. NaN (already unknown) is left alone and not reported."""
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for name in PLAUSIBLE:
        value = getattr(reading, name)
        if not math.isnan(value) and not plausible(name, value):
            low, high = PLAUSIBLE[name]
            changes[name] = NAN
            problems.append(f"{name}={value!r} is outside [{low:g}, {high:g}]: treated as unknown")
    return (replace(reading, **changes) if changes else reading), tuple(problems)


class PowerSource(Protocol):
    """A backend: ``read(now_s)`` at the node clock's time; ``close()`` frees it."""

    name: str

    def read(self, now_s: float) -> PowerReading: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PowerSourceConfig:
    """The ``power_source`` node's parameters (backend choice and each backend's settings)."""

    backend: str = param(
        "sysfs",
        "Where battery and temperature come from.",
        choices=("sysfs", "simulated", "bag", "fixed", "ina219", "ina260"),
        read_only=True,
    )
    period_s: float = param(1.0, "Publishing period (node clock).", min=0.01, max=3600.0)
    sysfs_root: str = param(
        "/sys", "Root of sysfs (tests point it at a fake tree).", read_only=True
    )
    battery_name: str = param(
        "", "power_supply entry of the battery ('' = first of type Battery).", read_only=True
    )
    thermal_zone: str = param(
        "thermal_zone0", "Thermal zone of the SoC temperature.", read_only=True
    )
    bag: str = param("", "Bag to replay (backend bag).", read_only=True)
    bag_loop: bool = param(True, "Restart the bag at its end.", read_only=True)
    capacity_wh: float = param(
        37.0,
        "Battery capacity, simulated or counted by an INA sensor (e.g. 10 Ah 1S Li-ion).",
        min=0.001,
        max=10000.0,
        read_only=True,
    )
    initial_soc: float = param(
        0.6,
        "State of charge at start (simulated; INA: when no counter_file holds the count).",
        min=0.0,
        max=1.0,
        read_only=True,
    )
    nominal_voltage: float = param(
        3.7,
        "Battery nominal voltage (capacity in Ah = capacity_wh / this).",
        min=0.1,
        max=100.0,
        read_only=True,
    )
    charge_efficiency: float = param(
        0.9, "Share of the charging power that is stored.", min=0.1, max=1.0
    )
    extra_load_w: float = param(
        0.0, "Load not reported by any node (PIR, IR illuminator).", min=0.0, max=100.0
    )
    solar_peak_w: float = param(2.0, "Solar panel power at noon in full sun.", min=0.0, max=1000.0)
    solar_factor: float = param(
        1.0, "Clouds/panel angle factor on the solar curve.", min=0.0, max=1.0
    )
    sunrise_h: float = param(6.0, "Local hour of sunrise.", min=0.0, max=24.0)
    sunset_h: float = param(20.0, "Local hour of sunset.", min=0.0, max=24.0)
    chargers: str = param("", "Daily charger windows 'HH[:MM]-HH[:MM]@W, ...' (local hours).")
    ambient_mean_c: float = param(15.0, "Mean ambient temperature.", min=-60.0, max=80.0)
    ambient_amplitude_c: float = param(
        5.0, "Day/night swing of the ambient temperature.", min=0.0, max=50.0
    )
    warmest_h: float = param(
        15.0, "Local hour of the warmest ambient temperature.", min=0.0, max=24.0
    )
    self_heating_c_per_w: float = param(
        6.0, "SoC temperature rise over ambient per watt of board load.", min=0.0, max=100.0
    )
    utc_offset_h: float = param(0.0, "Local time minus UTC.", min=-14.0, max=14.0)
    fixed_percentage: float = param(
        -1.0, "Fixed backend: state of charge (-1 = unknown).", min=-1.0, max=1.0
    )
    fixed_temperature_c: float = param(
        -300.0, "Fixed backend: temperature (-300 = unknown).", min=-300.0, max=200.0
    )
    i2c_bus: int = param(
        1, "INA: I2C bus number (/dev/i2c-N; 1 on a Pi's header).", min=0, max=255, read_only=True
    )
    i2c_address: int = param(
        0x40,
        "INA: 7-bit I2C address (0x40 = 64 with A0, A1 at GND).",
        min=0x08,
        max=0x77,
        read_only=True,
    )
    shunt_ohms: float = param(
        0.1,
        "INA219: shunt resistance (0.1 ohm on the common breakout boards).",
        min=1e-4,
        max=100.0,
        read_only=True,
    )
    max_current_a: float = param(
        3.2,
        "INA219: largest expected current; sets the current LSB (max/32768) and the calibration.",
        min=1e-3,
        max=100.0,
        read_only=True,
    )
    counter_file: str = param(
        "~/.local/state/wildcam/charge_counter.json",
        "INA: where the counted charge is kept across restarts and halts ('' = not kept).",
        read_only=True,
    )
    counter_save_s: float = param(
        300.0,
        "INA: seconds between saves of the counter (node clock; also saved at shutdown).",
        min=1.0,
        max=86400.0,
    )
    power_profile: str = power_profile_param()

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.sunset_h <= self.sunrise_h:
            raise ConfigError(
                f"sunset_h ({self.sunset_h}) must be after sunrise_h ({self.sunrise_h})"
            )
        parse_windows(self.chargers)

    def environment(self) -> Environment:
        """The simulated environment these settings describe."""
        return Environment(
            solar_peak_w=self.solar_peak_w,
            sunrise_h=self.sunrise_h,
            sunset_h=self.sunset_h,
            solar_factor=self.solar_factor,
            chargers=parse_windows(self.chargers),
            ambient_mean_c=self.ambient_mean_c,
            ambient_amplitude_c=self.ambient_amplitude_c,
            warmest_h=self.warmest_h,
            utc_offset_h=self.utc_offset_h,
        )


# --- sysfs -------------------------------------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _num(path: Path, scale: float) -> float:
    text = _read(path)
    try:
        return float(text) * scale if text is not None else NAN
    except ValueError:
        return NAN


class SysfsSource:
    """Linux power_supply and thermal classes; a missing or unreadable file is unknown."""

    name = "sysfs"

    def __init__(
        self, root: str | Path = "/sys", battery: str = "", thermal_zone: str = "thermal_zone0"
    ) -> None:
        self.supplies = Path(root) / "class" / "power_supply"
        self.thermal = Path(root) / "class" / "thermal" / thermal_zone
        self.battery = battery

    def _supplies(self, kind: str) -> list[Path]:
        try:
            entries = sorted(self.supplies.iterdir())
        except OSError:
            return []
        return [e for e in entries if _read(e / "type") == kind]

    def _battery_dir(self) -> Path | None:
        if self.battery:
            path = self.supplies / self.battery
            return path if path.is_dir() else None
        found = self._supplies("Battery")
        return found[0] if found else None

    def read(self, now_s: float) -> PowerReading:
        """Read the files now (``now_s`` is not needed)."""
        temperature = _num(self.thermal / "temp", 1e-3)
        bat = self._battery_dir()
        if bat is None:
            return PowerReading(temperature_c=temperature)
        status = _read(bat / "status")
        online = [
            _read(s / "online") == "1" for kind in ("Mains", "USB") for s in self._supplies(kind)
        ]
        charging = {
            "Charging": True,
            "Full": True,
            "Discharging": False,
            "Not charging": False,
        }.get(status or "", any(online) if online else None)
        voltage = _num(bat / "voltage_now", 1e-6)
        capacity = _num(bat / "capacity", 0.01)
        charge, full = _num(bat / "charge_now", 1e-6), _num(bat / "charge_full", 1e-6)
        design = _num(bat / "charge_full_design", 1e-6)
        if math.isnan(charge) and not math.isnan(voltage) and voltage > 0:  # energy-based gauges
            charge = _num(bat / "energy_now", 1e-6) / voltage
            full = _num(bat / "energy_full", 1e-6) / voltage
            design = _num(bat / "energy_full_design", 1e-6) / voltage
        if math.isnan(capacity) and full > 0:
            capacity = charge / full
        current = _num(bat / "current_now", 1e-6)
        if charging is False and current > 0:  # drivers differ in sign; ROS: negative = discharge
            current = -current
        present = _read(bat / "present")
        return PowerReading(
            percentage=capacity,
            voltage=voltage,
            current=current,
            charge_ah=charge,
            capacity_ah=full,
            design_capacity_ah=design,
            charging=charging,
            present=present != "0",
            battery_temperature_c=_num(bat / "temp", 0.1),
            temperature_c=temperature,
        )

    def close(self) -> None:
        """Nothing to free."""


# --- simulated ----------------------------------------------------------------------------------


class SimulatedSource:
    """A simulated battery; the node passes it the energy the stack reports (:meth:`draw`)."""

    name = "simulated"

    def __init__(self, config: PowerSourceConfig) -> None:
        self.config = config
        self.battery = SimBattery(
            capacity_wh=config.capacity_wh,
            soc=config.initial_soc,
            environment=config.environment(),
            idle_w=load_profile(config.power_profile).idle_w + config.extra_load_w,
            charge_efficiency=config.charge_efficiency,
            nominal_voltage=config.nominal_voltage,
        )

    def reconfigure(self, config: PowerSourceConfig) -> None:
        """Apply live settings (environment, load, efficiency); the charge is kept."""
        self.config = config
        self.battery.environment = config.environment()
        self.battery.idle_w = load_profile(config.power_profile).idle_w + config.extra_load_w
        self.battery.charge_efficiency = config.charge_efficiency

    def draw(self, joules: float) -> None:
        """Energy a node reported spending."""
        self.battery.draw(joules)

    def read(self, now_s: float) -> PowerReading:
        """Advance the simulation to ``now_s`` and read it."""
        b = self.battery
        b.advance(now_s)
        ambient = b.environment.ambient_c(now_s)
        current = (b.charge_w_now * b.charge_efficiency - b.load_w_now) / b.nominal_voltage
        return PowerReading(
            percentage=b.soc,
            voltage=b.nominal_voltage,
            current=current,
            charge_ah=b.charge_ah,
            capacity_ah=b.capacity_wh / b.nominal_voltage,
            design_capacity_ah=b.capacity_wh / b.nominal_voltage,
            charging=b.charging,
            present=True,
            battery_temperature_c=ambient,
            temperature_c=ambient + self.config.self_heating_c_per_w * b.load_w_now,
        )

    def close(self) -> None:
        """Nothing to free."""


# --- fixed --------------------------------------------------------------------------------------


class FixedSource:
    """Constant readings from the parameters (a trap without a gauge; tests)."""

    name = "fixed"

    def __init__(self, config: PowerSourceConfig) -> None:
        self.config = config

    def reconfigure(self, config: PowerSourceConfig) -> None:
        """Apply new fixed values."""
        self.config = config

    def read(self, now_s: float) -> PowerReading:
        """The configured values; the sentinel values mean unknown."""
        pct = self.config.fixed_percentage
        temp = self.config.fixed_temperature_c
        return PowerReading(
            percentage=pct if pct >= 0 else NAN,
            present=pct >= 0,
            temperature_c=temp if temp > -300 else NAN,
        )

    def close(self) -> None:
        """Nothing to free."""


def _bag_source(config: PowerSourceConfig) -> PowerSource:
    from wildcam.bags.power import BagSource  # a bag tool: rosbags only when replaying

    return BagSource(config.bag, config.bag_loop)


def _ina_source(config: PowerSourceConfig) -> PowerSource:
    from wildcam.power.ina import InaSource  # smbus2 only where a sensor is read

    return InaSource(config)


BACKENDS: dict[str, Callable[[PowerSourceConfig], PowerSource]] = {
    "sysfs": lambda c: SysfsSource(c.sysfs_root, c.battery_name, c.thermal_zone),
    "simulated": SimulatedSource,
    "bag": _bag_source,
    "fixed": FixedSource,
    "ina219": _ina_source,
    "ina260": _ina_source,
}


def make_power_source(config: PowerSourceConfig) -> PowerSource:
    """Open the backend ``config.backend``."""
    try:
        factory = BACKENDS[config.backend]
    except KeyError:
        raise ConfigError(
            f"unknown power source backend {config.backend!r}; one of {', '.join(BACKENDS)}"
        ) from None
    return factory(config)
