"""Bag-test fixtures: small synthetic bags (generated once per session) and a test-side node.

Graph fixtures start every process with the ``ros_env`` environment (loopback discovery, a
domain of the test's own) and stop it at teardown, killing it if it does not stop in time.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wildcam.bags import generate
from wildcam.bags.generate import GenerateResult
from wildcam.camera.synthetic import SceneConfig

from bag_helpers import small_scene  # type: ignore[import-not-found]

@pytest.fixture(scope="session")
def scene() -> SceneConfig:
    """The scene every shared bag is generated from (5 s, 320x240, 10 fps)."""
    return small_scene()


@pytest.fixture(scope="session", params=["sqlite3", "mcap"])
def generated(request: pytest.FixtureRequest, scene: SceneConfig,
              tmp_path_factory: pytest.TempPathFactory) -> GenerateResult:
    """The scene as a bag in each storage; the mcap one also holds full frames."""
    storage = str(request.param)
    out = tmp_path_factory.mktemp(f"gen_{storage}") / "bag"
    return generate(out, scene, storage=storage, full_frames=storage == "mcap")


@dataclass
class Node:
    """A test-side rclpy node with its own context and executor."""

    node: object
    executor: object

    def spin_until(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Spin until ``predicate()`` holds or ``timeout_s`` passes; return whether it held."""
        end = time.monotonic() + timeout_s
        while not predicate() and time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.05)  # type: ignore[attr-defined]
        return predicate()


@pytest.fixture
def test_node(ros_env: dict[str, str]) -> Iterator[Node]:
    """A node in the test's domain."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    context = Context()
    rclpy.init(context=context, domain_id=int(ros_env["ROS_DOMAIN_ID"]))
    node = rclpy.create_node("bag_test_node", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        yield Node(node, executor)
    finally:
        executor.remove_node(node)
        node.destroy_node()
        executor.shutdown()
        context.try_shutdown()


class BagTool:
    """Runs ``python -m wildcam.bags ...`` in the test's ROS environment."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start a bag subcommand; its output goes to a log file (see :meth:`output`)."""
        log = self.log_dir / f"bagtool{len(self.started)}.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen([sys.executable, "-m", "wildcam.bags", *args],
                                    env=self.env, stdout=sink, stderr=subprocess.STDOUT)
        self.started.append((proc, log))
        return proc

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        """What ``proc`` printed so far."""
        log = next(path for p, path in self.started if p is proc)
        return log.read_text(errors="replace")

    def wait_for_output(self, proc: subprocess.Popen[bytes], text: str, timeout_s: float) -> bool:
        """Wait until ``proc`` printed ``text`` (False on timeout or if it exited first)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if text in self.output(proc):
                return True
            if proc.poll() is not None:
                return text in self.output(proc)
            time.sleep(0.02)
        return False

    def stop_all(self) -> None:
        """Kill whatever is still running (a test stops its processes itself on success)."""
        for proc, _ in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def bagtool(ros_env: dict[str, str], tmp_path: Path) -> Iterator[BagTool]:
    """Starter for bag subprocesses; anything left running is killed afterwards."""
    tool = BagTool(ros_env, tmp_path)
    try:
        yield tool
    finally:
        tool.stop_all()
