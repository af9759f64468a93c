"""Fleet test fixtures: a Mosquitto broker of the test's own on a free loopback port (generated
configuration: password file, ACL per device), and an operator-side watcher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_helpers import PASSWORDS, Watcher  # test-local helpers

from wildcam.fleet.broker import Mosquitto, find_mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running broker (skips with the reason when Mosquitto is not installed)."""
    if find_mosquitto() is None:
        pytest.skip(
            "mosquitto is not installed (make test installs it with apt-get where it "
            "can: Debian package mosquitto)"
        )
    broker = Mosquitto(tmp_path / "broker", PASSWORDS).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def watcher(broker: Mosquitto) -> Iterator[Watcher]:
    w = Watcher(broker.port)
    assert w.subscribed.wait(10)
    try:
        yield w
    finally:
        w.close()
