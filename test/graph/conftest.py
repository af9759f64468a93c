"""Graph-test fixtures: node processes in the test's own domain (the ``probe`` node is in
test/conftest.py).

Every process is started with the ``ros_env`` environment (loopback discovery, own domain) and
is stopped at the end of the test, killed if it does not stop in time. Waits are bounded and
poll the graph; nothing sleeps for discovery.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.graph


class Processes:
    """Starts commands in the test's ROS environment; stops them all at teardown."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], name: str = "proc") -> subprocess.Popen[bytes]:
        """Start ``python args...``; output goes to ``<tmp>/<name>.log``."""
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        self.started.append(proc)
        return proc

    def node(self, module: str, *ros_args: str) -> subprocess.Popen[bytes]:
        """Start one wildcam node module with ``--ros-args ros_args``."""
        return self.start(["-m", module, "--ros-args", *ros_args], module.rsplit(".", 1)[-1])

    def log(self, name: str) -> str:
        """What a started process printed so far."""
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        """SIGINT each process, then SIGKILL what is still running after 10 s."""
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture
def procs(ros_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    """Process starter for the test; everything is stopped afterwards."""
    processes = Processes(ros_env, tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()
