"""Graph-test fixtures: a test-side rclpy node in the test's own domain, and node processes.

Every process is started with the ``ros_env`` environment (loopback discovery, own domain) and
is stopped at the end of the test, killed if it does not stop in time. Waits are bounded and
poll the graph; nothing sleeps for discovery.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

pytestmark = pytest.mark.graph


@dataclass
class Probe:
    """A test-side node and its executor."""

    node: Node
    executor: SingleThreadedExecutor
    received: dict[str, list[object]] = field(default_factory=dict)

    def spin_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Spin until ``predicate()`` holds or ``timeout_s`` passes; return whether it held."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return predicate()

    def spin_for(self, seconds: float) -> None:
        """Spin for ``seconds`` (used to collect a window of messages, never to wait)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)

    def wait_matched(self, topic: str, timeout_s: float = 30.0) -> bool:
        """Wait until every subscription of the probe on ``topic`` is matched to a publisher.

        Messages published before the match are lost on volatile topics; tests wait here
        before they make something happen.
        """
        subs = [s for s in self.node.subscriptions if s.topic_name.lstrip("/") == topic.lstrip("/")]
        assert subs, f"the probe has no subscription on {topic}"
        return self.spin_until(lambda: all(s.get_publisher_count() > 0 for s in subs), timeout_s)

    def collect(self, msg_type: type, topic: str, qos: object = 10) -> list[object]:
        """Subscribe ``topic`` and return the list its messages are appended to."""
        box = self.received.setdefault(topic, [])
        self.node.create_subscription(msg_type, topic, box.append, qos)  # type: ignore[arg-type]
        return box


@pytest.fixture
def probe(ros_env: dict[str, str]) -> Iterator[Probe]:
    """A node in the test's domain (its own rclpy context)."""
    context = Context()
    rclpy.init(context=context, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    node = rclpy.create_node("test_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        yield Probe(node, executor)
    finally:
        executor.remove_node(node)
        node.destroy_node()
        executor.shutdown()
        context.try_shutdown()


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
