"""``wildcam run`` when a node dies mid-run: it says so before the summary and exits 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.graph


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def _node_pid(run_pid: int, module: str) -> int | None:
    for child in _children(run_pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if module.encode() in cmdline:
            return child
    return None


def test_a_node_that_died_is_reported_before_the_summary_and_the_run_fails(
    ros_env: dict[str, str], probe: Any, tmp_path: Path
) -> None:
    from sensor_msgs.msg import CameraInfo

    out = tmp_path / "out"
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wildcam.cli",
                "run",
                "--preset",
                "default",
                "--duration",
                "16",
                "--speed",
                "2",
                "--out",
                str(out),
            ],
            env=ros_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            frames = probe.collect(CameraInfo, "camera/small/camera_info")
            assert probe.spin_until(lambda: len(frames) >= 20 or run.poll() is not None, 120.0), (
                log_path.read_text()
            )
            victim = _node_pid(run.pid, "wildcam.nodes.power_source")
            assert victim is not None, _children(run.pid)
            os.kill(victim, signal.SIGKILL)
            code = run.wait(timeout=180)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    output = log_path.read_text(errors="replace")
    assert code == 1, output
    died = output.index("node power_source died during the run (exit code -9")
    assert died < output.index("summary ("), output  # said before the numbers it affects
    assert (out / "report.html").is_file() and (out / "summary.json").is_file()
    assert (out / "logs" / "power_source.log").read_text().count("started (pid") == 2  # respawned
