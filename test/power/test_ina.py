"""INA219/INA260 drivers and the ``ina*`` power_source backends against a fake I2C bus that
emulates each chip's register map (words big-endian on the wire), and the measured-energy
integration the power manager sets against the model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from wildcam.errors import ConfigError, DeviceError
from wildcam.power.aggregate import EnergyAggregator, MeasuredEnergy, modelled_vs_measured
from wildcam.power.energy import StageEnergy
from wildcam.power.ina import INA219, INA260, InaSource
from wildcam.power.sources import PowerSourceConfig


def _word(value: int) -> int:
    return value & 0xFFFF


class FakeBus:
    """smbus2.SMBus's transfer methods over a dict of 16-bit registers at one address.

    ``shunt_v`` and ``bus_v`` are the analogue inputs; the INA219's current register follows
    its datasheet: shunt register x calibration / 4096 (zero until calibrated).
    """

    def __init__(self, chip: str, address: int = 0x40) -> None:
        self.chip, self.address = chip, address
        self.regs: dict[int, int] = (
            {0x00: 0x399F, 0x05: 0}
            if chip == "ina219"
            else {0x00: 0x6127, 0xFE: 0x5449, 0xFF: 0x2270}
        )
        self.shunt_v, self.bus_v, self.overflow = 0.0, 0.0, False
        self.closed = False
        self.reads: list[int] = []

    def _value(self, register: int) -> int:
        if self.chip == "ina219":
            shunt = round(self.shunt_v / 10e-6)
            if register == 0x01:
                return _word(shunt)
            if register == 0x02:
                return (round(self.bus_v / 0.004) << 3) | 0b10 | int(self.overflow)
            if register == 0x04:
                return _word(int(shunt * self.regs[0x05] / 4096))
        else:
            if register == 0x01:
                return _word(round(self.shunt_v / 0.002 / 0.00125))  # 2 mOhm internal shunt
            if register == 0x02:
                return round(self.bus_v / 0.00125)
        return self.regs[register]

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        if i2c_addr != self.address:
            raise OSError(121, "Remote I/O error")  # no ACK, as smbus2 reports it
        assert length == 2
        self.reads.append(register)
        word = self._value(register)
        return [word >> 8, word & 0xFF]  # most significant byte first on the wire

    def read_word_data(self, i2c_addr: int, register: int) -> int:
        msb, lsb = self.read_i2c_block_data(i2c_addr, register, 2)
        return msb | (lsb << 8)  # SMBus words are little-endian: swapped

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None:
        if i2c_addr != self.address:
            raise OSError(121, "Remote I/O error")
        msb, lsb = data
        self.regs[register] = (msb << 8) | lsb

    def close(self) -> None:
        self.closed = True


def test_ina219_calibration_and_readings() -> None:
    bus = FakeBus("ina219")
    chip = INA219(bus, 0x40, shunt_ohms=0.1, max_current_a=3.2)
    # Current_LSB = 3.2 / 32768 = 97.66 uA; Cal = trunc(0.04096 / (97.66e-6 * 0.1)) = 4194.
    assert chip.calibration == 4194 and bus.regs[0x05] == 4194
    assert bus.regs[0x00] == 0x3FFF
    bus.shunt_v, bus.bus_v = 0.0512, 4.108  # 512 mA into the load at 4.108 V
    sample = chip.sample()
    assert sample.voltage == pytest.approx(4.108)
    assert sample.current == pytest.approx(0.512, abs=chip.current_lsb)
    bus.shunt_v = -0.0203  # charging: negative shunt voltage
    assert chip.sample().current == pytest.approx(-0.203, abs=chip.current_lsb)
    bus.regs[0x05] = 0  # brown-out lost the calibration
    assert chip.sample().current == pytest.approx(-0.203, abs=chip.current_lsb)
    assert bus.regs[0x05] == 4194
    bus.overflow = True
    assert math.isnan(chip.sample().current)
    # The byte order matters: an SMBus word read of the bus register comes back swapped.
    assert bus.read_word_data(0x40, 0x02) != bus._value(0x02)


def test_ina219_settings_and_absent_chip_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="shunt range"):
        INA219(FakeBus("ina219"), 0x40, shunt_ohms=0.1, max_current_a=5.0)
    with pytest.raises(ConfigError, match="calibration"):
        INA219(FakeBus("ina219"), 0x40, shunt_ohms=0.001, max_current_a=0.01)
    with pytest.raises(DeviceError, match="0x41"):
        INA219(FakeBus("ina219"), 0x41, shunt_ohms=0.1, max_current_a=3.2)


def test_ina260_identity_configuration_and_readings() -> None:
    bus = FakeBus("ina260")
    chip = INA260(bus, 0x40)
    assert bus.regs[0x00] == 0x6927
    bus.shunt_v, bus.bus_v = 0.002 * 1.5, 5.1
    sample = chip.sample()
    assert sample.voltage == pytest.approx(5.1, abs=0.00125)
    assert sample.current == pytest.approx(1.5, abs=0.00125)
    bus.shunt_v = -0.002 * 0.25
    assert chip.sample().current == pytest.approx(-0.25, abs=0.00125)
    other = FakeBus("ina260")
    other.regs[0xFF] = 0x2260  # an INA226 answers at the address
    with pytest.raises(DeviceError, match="no INA260"):
        INA260(other, 0x40)


def test_ina_source_counts_charge_and_keeps_it_across_restarts(tmp_path: Path) -> None:
    counter = tmp_path / "state" / "counter.json"
    config = PowerSourceConfig(
        backend="ina219",
        capacity_wh=37.0,
        nominal_voltage=3.7,
        initial_soc=0.5,
        counter_file=str(counter),
    )
    bus = FakeBus("ina219")
    bus.shunt_v, bus.bus_v = 0.1, 3.7  # 1 A drawn at 3.7 V
    source = InaSource(config, open_bus=lambda n: bus)
    first = source.read(0.0)
    assert first.current == pytest.approx(-1.0, abs=1e-3) and first.charging is False
    assert first.percentage == pytest.approx(0.5) and first.capacity_ah == pytest.approx(10.0)
    for t in range(1, 37):  # 36 s at 1 A = 0.01 Ah
        reading = source.read(float(t))
    assert reading.charge_ah == pytest.approx(5.0 - 0.01, abs=1e-4)
    assert source.energy.drawn_j == pytest.approx(36 * 3.7, rel=1e-3)
    source.close()
    assert bus.closed
    assert json.loads(counter.read_text())["charge_ah"] == pytest.approx(4.99, abs=1e-4)
    again = InaSource(config, open_bus=lambda n: FakeBus("ina219"))  # a restart after a halt
    assert again.read(100.0).charge_ah == pytest.approx(4.99, abs=1e-4)


def test_ina_source_full_battery_on_a_charger_stays_full() -> None:
    bus = FakeBus("ina260")
    bus.bus_v = 4.2
    config = PowerSourceConfig(backend="ina260", initial_soc=1.0, counter_file="")
    source = InaSource(config, open_bus=lambda n: bus)
    bus.shunt_v = -0.002 * 1.0  # 1 A into the full battery for an hour
    for t in range(0, 3601, 60):
        assert source.read(float(t)).percentage == pytest.approx(1.0)
    bus.shunt_v = 0.002 * 1.0  # then 1 A out: the first minute is the
    for t in range(3660, 3600 + 361, 60):  # trapezoid's ramp (net 0), then 5 minutes
        reading = source.read(float(t))
    assert reading.percentage == pytest.approx(1.0 - 5 / 60 / 10.0, abs=1e-4)
    assert reading.charging is False


def test_ina_source_reads_fail_while_the_sensor_is_away_and_recover() -> None:
    # No /dev/i2c-250 here: each read is a DeviceError (the node logs it and goes on).
    absent = InaSource(PowerSourceConfig(backend="ina260", i2c_bus=250, counter_file=""))
    with pytest.raises(DeviceError, match="I2C bus 250"):
        absent.read(0.0)
    with pytest.raises(ConfigError, match="shunt range"):  # settings fail at once
        InaSource(PowerSourceConfig(backend="ina219", max_current_a=5.0, counter_file=""))
    buses = [FakeBus("ina260"), FakeBus("ina260")]
    opened: list[FakeBus] = []

    def open_bus(number: int) -> FakeBus:
        opened.append(buses[len(opened)])
        return opened[-1]

    source = InaSource(PowerSourceConfig(backend="ina260", counter_file=""), open_bus=open_bus)
    buses[0].bus_v = buses[1].bus_v = 5.0
    assert source.read(0.0).voltage == pytest.approx(5.0)
    buses[0].address = 0x41  # unplugged: reads get no ACK
    with pytest.raises(DeviceError, match="I2C read"):
        source.read(1.0)
    assert buses[0].closed
    assert source.read(2.0).voltage == pytest.approx(5.0)  # re-plugged: opened and set again
    assert len(opened) == 2 and buses[1].regs[0x00] == 0x6927
    assert source.energy.gap_s == pytest.approx(2.0)  # the failed read is not integrated


def test_measured_energy_integrates_and_leaves_gaps_out() -> None:
    measured = MeasuredEnergy(window_s=100.0, max_gap_s=10.0)
    for t in range(0, 11):
        measured.add(float(t), 5.0, -0.4)  # 2 W drawn for 10 s
    measured.add(50.0, 5.0, -0.4)  # 39 s without readings: a gap
    measured.add(51.0, math.nan, -0.4)  # unknown voltage: not integrated
    measured.add(52.0, 5.0, -0.8)
    measured.add(53.0, 5.0, -0.8)  # 4 W for 1 s
    measured.add(52.5, 5.0, -100.0)  # out of order: ignored
    assert measured.drawn_j == pytest.approx(24.0)
    assert measured.covered_s == pytest.approx(11.0) and measured.gap_s == pytest.approx(42.0)
    assert measured.net_ah == pytest.approx(-(0.4 * 10 + 0.8) / 3600)
    assert measured.average_power_w(53.0) == pytest.approx(24.0 / 11.0)
    assert measured.average_power_w(160.0) is not None and math.isnan(
        measured.average_power_w(160.0)
    )


def test_modelled_against_measured_pairs() -> None:
    aggregate = EnergyAggregator(window_s=3600.0)
    aggregate.add(100.0, "cascade_detector", 100.0, [StageEnergy("stage1", 10, 1.0, 0.0, 50.0)])
    modelled = aggregate.summary(100.0, idle_w=2.0)  # 2 W idle + 0.5 W of stages
    measured = MeasuredEnergy(max_gap_s=200.0)
    assert modelled_vs_measured(modelled, measured, 100.0) == []
    measured.add(0.0, 5.0, -0.5)
    measured.add(100.0, 5.0, -0.5)  # 2.5 W measured
    pairs = dict(modelled_vs_measured(modelled, measured, 100.0))
    assert float(pairs["measured.average_power_w"]) == pytest.approx(2.5)
    assert float(pairs["measured.total_j"]) == pytest.approx(250.0)
    assert float(pairs["modelled_over_measured"]) == pytest.approx(1.0)
