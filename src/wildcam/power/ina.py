"""TI INA219 and INA260 current/voltage sensors over I2C (``smbus2``), and the ``power_source``
backend that counts the battery's coulombs and joules with them.

Register maps, reset values and LSBs are from the TI datasheets: INA219 (SBOS448G, sections
8.5 "Programming" and 8.6 "Register Maps") and INA260 (SBOS656C, sections 8.5-8.6); the Linux
``hwmon/ina2xx`` driver uses the same constants.

Byte order: every register is a 16-bit word sent most significant byte first (datasheets,
"Serial Interface"). SMBus word transfers (``read_word_data``) put the first byte in the low
half, so they would return the two bytes swapped; the drivers here use I2C block transfers of
two bytes (``read_i2c_block_data(addr, reg, 2)``: the register pointer, a repeated start, two
bytes) and assemble the word big-endian.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wildcam.errors import ConfigError, DeviceError
from wildcam.fileio import private_dir, write_durably
from wildcam.power.aggregate import MeasuredEnergy
from wildcam.power.sources import PowerReading, PowerSourceConfig

__all__ = ["INA219", "INA260", "I2cBus", "InaSample", "InaSource", "open_bus"]


class I2cBus(Protocol):
    """What the drivers use of ``smbus2.SMBus`` (tests pass a fake with the same methods)."""

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None: ...

    def close(self) -> None: ...


def open_bus(bus: int) -> I2cBus:
    """``smbus2.SMBus(bus)``; a missing or inaccessible ``/dev/i2c-N`` is a DeviceError."""
    from smbus2 import SMBus

    try:
        return SMBus(bus)
    except OSError as err:
        raise DeviceError(
            f"cannot open I2C bus {bus} (/dev/i2c-{bus}): {err}; on a Pi enable "
            f"I2C with raspi-config or dtparam=i2c_arm=on"
        ) from err


def _signed(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


@dataclass(frozen=True)
class InaSample:
    """One reading: bus voltage, current through the shunt (positive from IN+ to IN-)."""

    voltage: float  # V
    current: float  # A; NaN when the chip reports an overflow


class _Ina:
    def __init__(self, bus: I2cBus, address: int) -> None:
        self.bus, self.address = bus, address

    def read(self, register: int) -> int:
        try:
            msb, lsb = self.bus.read_i2c_block_data(self.address, register, 2)
        except (OSError, ValueError) as err:
            raise DeviceError(
                f"I2C read of register 0x{register:02x} at 0x{self.address:02x}: {err}"
            ) from err
        return (msb << 8) | lsb

    def write(self, register: int, word: int) -> None:
        try:
            self.bus.write_i2c_block_data(self.address, register, [word >> 8, word & 0xFF])
        except OSError as err:
            raise DeviceError(
                f"I2C write of register 0x{register:02x} at 0x{self.address:02x}: {err}"
            ) from err


class INA219(_Ina):
    """INA219 with an external shunt (SBOS448G).

    Configuration 0x3FFF: 32 V bus range (BRNG=1), PGA /8 (+-320 mV shunt range), 128-sample
    averaging on both ADCs (68.1 ms each), shunt and bus continuous. Calibration (section
    8.5.1): ``Current_LSB = max_current / 2**15``, ``Cal = trunc(0.04096 /
    (Current_LSB * R_shunt))``, bit 0 unused; the LSB used is recomputed from the truncated Cal.
    Bus voltage: bits 15-3, 4 mV LSB; bit 0 (OVF) flags a current/power overflow.
    """

    CONFIG, SHUNT, BUS, POWER, CURRENT, CALIBRATION = range(6)
    CONFIG_VALUE = 0x3FFF
    MAX_SHUNT_V = 0.32  # PGA /8 full scale (configuration register, PG bits)

    def __init__(self, bus: I2cBus, address: int, shunt_ohms: float, max_current_a: float) -> None:
        super().__init__(bus, address)
        self.calibration = self.calibration_for(shunt_ohms, max_current_a)
        self.current_lsb = 0.04096 / (self.calibration * shunt_ohms)
        self.write(self.CONFIG, self.CONFIG_VALUE)
        if self.read(self.CONFIG) != self.CONFIG_VALUE:
            raise DeviceError(f"no INA219 at 0x{address:02x}: configuration does not read back")
        self.write(self.CALIBRATION, self.calibration)

    @classmethod
    def calibration_for(cls, shunt_ohms: float, max_current_a: float) -> int:
        """The calibration register value; settings the chip cannot take are a ConfigError."""
        if max_current_a * shunt_ohms > cls.MAX_SHUNT_V + 1e-12:
            raise ConfigError(
                f"max_current_a {max_current_a} A across {shunt_ohms} ohm is "
                f"{max_current_a * shunt_ohms:.3f} V, above the INA219's "
                f"{cls.MAX_SHUNT_V} V shunt range"
            )
        cal = int(0.04096 / (max_current_a / 2**15 * shunt_ohms)) & 0xFFFE
        if not 2 <= cal <= 0xFFFE:
            raise ConfigError(
                f"shunt_ohms {shunt_ohms} and max_current_a {max_current_a} "
                f"give INA219 calibration {cal}, outside 2..65534"
            )
        return cal

    def sample(self) -> InaSample:
        """Bus voltage and current; the calibration is written again if a brown-out lost it."""
        if self.read(self.CALIBRATION) != self.calibration:
            self.write(self.CALIBRATION, self.calibration)
        bus = self.read(self.BUS)
        current = _signed(self.read(self.CURRENT)) * self.current_lsb
        return InaSample(voltage=(bus >> 3) * 0.004, current=math.nan if bus & 1 else current)


class INA260(_Ina):
    """INA260 with its integrated 2 mOhm shunt (SBOS656C): no calibration; current LSB
    1.25 mA (signed), bus voltage LSB 1.25 mV. Configuration 0x6927: 128 averages (AVG=100),
    1.1 ms conversions, shunt and bus continuous. Identified by the manufacturer ID register
    (0xFE = 0x5449, "TI") and the die ID (0xFF, bits 15-4 = 0x227)."""

    CONFIG, CURRENT, BUS, POWER = 0x00, 0x01, 0x02, 0x03
    MANUFACTURER_ID, DIE_ID = 0xFE, 0xFF
    CONFIG_VALUE = 0x6927

    def __init__(self, bus: I2cBus, address: int) -> None:
        super().__init__(bus, address)
        maker, die = self.read(self.MANUFACTURER_ID), self.read(self.DIE_ID)
        if maker != 0x5449 or die >> 4 != 0x227:
            raise DeviceError(
                f"no INA260 at 0x{address:02x}: IDs 0x{maker:04x}/0x{die:04x}, "
                f"expected 0x5449/0x227x"
            )
        self.write(self.CONFIG, self.CONFIG_VALUE)

    def sample(self) -> InaSample:
        """Bus voltage and current."""
        return InaSample(
            voltage=self.read(self.BUS) * 0.00125,
            current=_signed(self.read(self.CURRENT)) * 0.00125,
        )


class InaSource:
    """``power_source`` backend: an INA219/INA260 in the battery's output.

    The shunt sits in the battery's path, so a positive shunt current is discharge and is
    reported negative (``BatteryState``); a charger feeding the battery through it reads the
    other way. The charge is counted from ``initial_soc`` x capacity (capacity =
    ``capacity_wh / nominal_voltage``) and kept in ``counter_file`` (saved at most every
    ``counter_save_s`` and at close), so it survives a halt; what the board draws while halted
    is not measured (the sensor is read by the board) and is not in the count.

    Settings the chip cannot take fail at once (ConfigError). The bus and the chip are opened
    at the first read, and again after a failed one: a missing or unplugged sensor is a
    DeviceError of that read (the node logs and counts it and keeps going), never a dead graph.
    ``open_bus`` is :func:`open_bus` unless a test passes a fake.
    """

    name = "ina"

    def __init__(
        self, config: PowerSourceConfig, open_bus: Callable[[int], I2cBus] = open_bus
    ) -> None:
        self.config, self._open_bus = config, open_bus
        if config.backend == "ina219":
            INA219.calibration_for(config.shunt_ohms, config.max_current_a)
        self.bus: I2cBus | None = None
        self.chip: INA219 | INA260 | None = None
        self.capacity_ah = config.capacity_wh / config.nominal_voltage
        self.energy = MeasuredEnergy(max_gap_s=max(60.0, 5 * config.period_s))
        self.counter = Path(config.counter_file).expanduser() if config.counter_file else None
        self._charge_ah = self._load_counter()
        self._counted_ah = 0.0  # the part of energy.net_ah already in _charge_ah
        self._saved_t: float | None = None

    def _load_counter(self) -> float:
        if self.counter is not None and self.counter.is_file():
            try:
                return float(json.loads(self.counter.read_text())["charge_ah"])
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a damaged counter starts again from initial_soc
        return self.config.initial_soc * self.capacity_ah

    def charge_ah(self) -> float:
        """Charge left by the count, kept within 0..capacity (a full battery on the charger
        stays full; it does not bank the surplus)."""
        delta, self._counted_ah = self.energy.net_ah - self._counted_ah, self.energy.net_ah
        self._charge_ah = min(self.capacity_ah, max(0.0, self._charge_ah + delta))
        return self._charge_ah

    def save_counter(self) -> None:
        """Write the charge to ``counter_file`` (atomically)."""
        if self.counter is None:
            return
        try:
            private_dir(self.counter.parent)
            write_durably(
                self.counter,
                json.dumps(
                    {"charge_ah": self.charge_ah(), "drawn_j": self.energy.drawn_j}
                ).encode(),
                self.counter.with_suffix(".tmp"),
            )
        except OSError as err:
            raise DeviceError(f"cannot save the charge counter {self.counter}: {err}") from err

    def _chip(self) -> INA219 | INA260:
        if self.chip is None:
            cfg = self.config
            self.bus = self._open_bus(cfg.i2c_bus)
            self.chip = (
                INA260(self.bus, cfg.i2c_address)
                if cfg.backend == "ina260"
                else INA219(self.bus, cfg.i2c_address, cfg.shunt_ohms, cfg.max_current_a)
            )
        return self.chip

    def _drop(self) -> None:
        if self.bus is not None:
            self.bus.close()
        self.bus = self.chip = None

    def read(self, now_s: float) -> PowerReading:
        """Sample the sensor at ``now_s`` (node clock) and count."""
        try:
            sample = self._chip().sample()
        except DeviceError:
            self._drop()  # set up afresh at the next read (a re-plugged sensor)
            self.energy.add(now_s, math.nan, math.nan)  # an unknown stretch, not integrated
            raise
        current = -sample.current
        self.energy.add(now_s, sample.voltage, current)
        if self._saved_t is None or now_s - self._saved_t >= self.config.counter_save_s:
            self._saved_t = now_s
            self.save_counter()
        charge = self.charge_ah()
        return PowerReading(
            percentage=charge / self.capacity_ah,
            voltage=sample.voltage,
            current=current,
            charge_ah=charge,
            capacity_ah=self.capacity_ah,
            design_capacity_ah=self.capacity_ah,
            charging=None if math.isnan(current) else current > 0,
            present=True,
        )

    def close(self) -> None:
        """Save the counter and close the bus."""
        try:
            self.save_counter()
        finally:
            self._drop()
