"""Test harness: every ROS process a test starts stays on this host, in a domain of its own.

``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` is set for the whole session before anything can
import rclpy; graph tests take the ``ros_env`` fixture, which claims a free ``ROS_DOMAIN_ID``
(process-safe, so concurrent runs never meet) and returns the environment for subprocesses;
``procs`` starts node processes in it and stops them
afterwards, ``probe`` is an in-process node for waiting on topics and calling parameter services.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from wildcam.rosenv import claim_domain, ros_environment

os.environ.update(ros_environment())
REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path | None:
    """The shared real-data directory (``WILDCAM_DATA`` or ``../shared/data``), if present."""
    path = Path(os.environ.get("WILDCAM_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


@pytest.fixture
def ros_env() -> Iterator[dict[str, str]]:
    """Claim a ROS domain for this test; yield the environment to start ROS processes with.

    The domain is also set in ``os.environ`` so an in-process ``rclpy.init`` joins it.
    """
    with claim_domain() as domain:
        env = ros_environment(domain)
        previous = os.environ.get("ROS_DOMAIN_ID")
        os.environ["ROS_DOMAIN_ID"] = str(domain)
        try:
            yield env
        finally:
            if previous is None:
                os.environ.pop("ROS_DOMAIN_ID", None)
            else:
                os.environ["ROS_DOMAIN_ID"] = previous


@pytest.fixture
def shared_data() -> Path:
    """The real camera-trap data; skips the test with the reason when it is absent."""
    path = data_dir()
    if path is None:
        pytest.skip("real data not found: set WILDCAM_DATA or place it at ../shared/data")
    return path


@pytest.fixture
def camtrap_specs() -> Path:
    """The Camtrap DP 1.0.2 specification; skips with the reason when it is absent."""
    from wildcam.ecology.camtrap import specs_dir

    path = specs_dir()
    if path is None:
        pytest.skip(
            "Camtrap DP 1.0.2 specs not found: set WILDCAM_SPECS or place them at "
            "../shared/specs/camtrap-dp-1.0.2"
        )
    return path


@dataclass
class Probe:
    """A test-side node and its executor."""

    node: Any  # rclpy.node.Node
    executor: Any  # rclpy.executors.SingleThreadedExecutor
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
        subs = [
            s for s in self.node.subscriptions if s.topic_name.lstrip("/") == topic.lstrip("/")
        ]
        assert subs, f"the probe has no subscription on {topic}"
        return self.spin_until(lambda: all(s.get_publisher_count() > 0 for s in subs), timeout_s)

    def set_parameters(self, node_name: str, **values: Any) -> list[Any]:
        """``set_parameters`` on another node through its parameter service; the results."""
        from rclpy.parameter import Parameter
        from rclpy.parameter_client import AsyncParameterClient

        client = AsyncParameterClient(self.node, node_name)
        assert client.wait_for_services(timeout_sec=10.0), f"{node_name} parameter services"
        future = client.set_parameters([Parameter(k, value=v) for k, v in values.items()])
        assert self.spin_until(future.done, 10.0), f"{node_name} did not answer set_parameters"
        return list(future.result().results)

    def get_parameter(self, node_name: str, name: str) -> Any:
        """One parameter of another node through its parameter service."""
        from rclpy.parameter import parameter_value_to_python
        from rclpy.parameter_client import AsyncParameterClient

        client = AsyncParameterClient(self.node, node_name)
        assert client.wait_for_services(timeout_sec=10.0), f"{node_name} parameter services"
        future = client.get_parameters([name])
        assert self.spin_until(future.done, 10.0), f"{node_name} did not answer get_parameters"
        return parameter_value_to_python(future.result().values[0])

    def lifecycle_state(self, node_name: str) -> str:
        """A managed node's state label (``get_state``), ``''`` while it does not answer."""
        from lifecycle_msgs.srv import GetState

        client = self.node.create_client(GetState, f"{node_name}/get_state")
        try:
            if not client.wait_for_service(timeout_sec=1.0):
                return ""
            future = client.call_async(GetState.Request())
            if not self.spin_until(future.done, 5.0) or future.result() is None:
                return ""
            return str(future.result().current_state.label)
        finally:
            self.node.destroy_client(client)

    def collect(self, msg_type: type, topic: str, qos: object = 10) -> list[object]:
        """Subscribe ``topic`` and return the list its messages are appended to."""
        box = self.received.setdefault(topic, [])
        self.node.create_subscription(msg_type, topic, box.append, qos)  # type: ignore[arg-type]
        return box


@pytest.fixture
def probe(ros_env: dict[str, str]) -> Iterator[Probe]:
    """A node in the test's domain (its own rclpy context)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

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
        proc = subprocess.Popen(
            [sys.executable, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
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
    """Process starter for the test; everything is stopped afterwards.

    ``HOME`` is the test's own, so node state kept under ``~/.local/state`` (the power manager's
    mode and device state) never leaks from one test into another or into the user's.
    """
    home = tmp_path / "home"
    home.mkdir()
    processes = Processes({**ros_env, "HOME": str(home)}, tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()
