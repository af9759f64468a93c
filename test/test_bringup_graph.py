"""`wildcam bringup`: the node table's graph as processes (and composed), respawn, shutdown.

The same scenario as the launch test (test/test_launch.py), run here without ROS launch.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sensor_msgs.msg import CameraInfo

from wildcam.bringup import default_params_file
from wildcam.docs import default_parameters
from wildcam.graph import NODES
from wildcam.ros.qos import SENSOR_SUB

pytestmark = pytest.mark.graph


def _pids(log: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", log):
        found.setdefault(name, []).append(int(pid))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def _zombie_shm_segments() -> list[str]:
    """Fast DDS segment lock files no live process holds (what `fastdds shm clean` removes)."""
    import fcntl

    zombies = []
    for path in Path("/dev/shm").glob("fastdds_*_el"):
        try:
            with open(path, "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
            zombies.append(path.name)
        except OSError:
            pass
    return zombies


def _orphan_ports(domain: int) -> list[str]:
    """This domain's Fast DDS port files (7400 + 250 x domain + offset) that no process maps
    and that have no lock file: what an unclean stop leaves in /dev/shm."""
    from wildcam.bringup import _mapped_files

    mapped = _mapped_files()
    base = 7400 + 250 * domain
    return [
        p.name
        for p in Path("/dev/shm").glob("fastdds_port*")
        if p.name.removeprefix("fastdds_port").isdigit()
        and base <= int(p.name.removeprefix("fastdds_port")) < base + 250
        and not Path(f"{p}_el").exists()
        and str(p) not in mapped
    ]


def _graph_nodes(probe) -> set[str]:  # type: ignore[no-untyped-def]
    return {name for name, _ in probe.node.get_node_names_and_namespaces()}


def test_bringup_starts_the_table_and_stops_cleanly(probe, procs) -> None:  # type: ignore[no-untyped-def]
    infos = probe.collect(CameraInfo, "camera/small/camera_info", SENSOR_SUB)
    proc = procs.start(["-m", "wildcam.cli", "bringup"], "bringup")
    expected = {n.name for n in NODES if not n.on_request}
    assert probe.spin_until(lambda: expected <= _graph_nodes(probe), 30.0), _graph_nodes(probe)
    assert not {n.name for n in NODES if n.on_request} & _graph_nodes(probe)  # sim_clock: asked
    assert probe.spin_until(lambda: len(infos) >= 5, 20.0), "camera frames"
    pids = _pids(procs.log("bringup"))
    assert set(pids) == expected
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, procs.log("bringup")
    assert not any(_alive(p) for ps in pids.values() for p in ps), "orphaned node processes"
    assert _zombie_shm_segments() == []
    assert _orphan_ports(int(procs.env["ROS_DOMAIN_ID"])) == []


def test_a_killed_node_is_respawned(probe, procs) -> None:  # type: ignore[no-untyped-def]
    infos = probe.collect(CameraInfo, "camera/small/camera_info", SENSOR_SUB)
    proc = procs.start(["-m", "wildcam.cli", "bringup", "--nodes", "camera_driver"], "bringup")
    assert probe.spin_until(lambda: len(infos) >= 3, 30.0)
    first = _pids(procs.log("bringup"))["camera_driver"][0]
    os.kill(first, signal.SIGKILL)
    assert probe.spin_until(lambda: len(_pids(procs.log("bringup"))["camera_driver"]) == 2, 20.0)
    mark = len(infos)
    assert probe.spin_until(lambda: len(infos) >= mark + 3, 30.0), "respawned camera publishes"
    assert "respawning" in procs.log("bringup")
    proc.send_signal(signal.SIGINT)  # as Ctrl-C
    assert proc.wait(timeout=30) == 0, procs.log("bringup")
    # The killed process could not close its shared-memory ports; the stop removes them.
    assert _orphan_ports(int(procs.env["ROS_DOMAIN_ID"])) == []


def test_bringup_drives_the_managed_camera_up_and_deactivates_it_before_the_stop(  # type: ignore[no-untyped-def]
    probe, procs
) -> None:
    infos = probe.collect(CameraInfo, "camera/small/camera_info", SENSOR_SUB)
    proc = procs.start(["-m", "wildcam.cli", "bringup", "--nodes", "camera_driver"], "bringup")
    assert probe.spin_until(lambda: probe.lifecycle_state("camera_driver") == "active", 40.0)
    assert probe.spin_until(lambda: len(infos) >= 3, 20.0), "an active camera publishes"
    # Not the camera's own autostart: bringup starts it with autostart false.
    assert probe.get_parameter("camera_driver", "autostart") is False
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=40) == 0, procs.log("bringup")
    log = procs.log("bringup")  # the lifecycle helper writes where bringup does
    assert "camera_driver is unconfigured: configure, activate" in log, log
    assert "camera_driver is active: deactivate" in log, log  # the stop waits for it


def test_a_bad_parameters_file_stops_bringup_before_any_node_starts(ros_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    params = default_parameters()
    params["/**/camera_driver"]["ros__parameters"]["fps"] = 1000.0  # out of range
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wildcam.cli",
            "bringup",
            "--nodes",
            "camera_driver",
            "--params-file",
            str(path),
        ],
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"wildcam bringup: {path}: camera_driver.fps=1000.0: allowed: float in [0.1, 60.0]"
    )
    assert "started" not in result.stdout  # nothing was started, nothing respawned


def test_each_node_logs_to_its_own_file_and_the_uploader_gets_its_own_queue(  # type: ignore[no-untyped-def]
    probe, procs, tmp_path
) -> None:
    home = tmp_path / "home"
    procs.env["HOME"] = str(home)
    procs.start(["-m", "wildcam.cli", "bringup", "--nodes", "uploader", "power_source"], "bringup")
    assert probe.spin_until(lambda: "upload queue:" in procs.log("bringup"), 30.0)
    queue = Path(re.search(r"upload queue: (\S+)", procs.log("bringup")).group(1))
    assert queue.parent.parent == home / ".local" / "state" / "wildcam" / "bringup"
    assert probe.spin_until(lambda: {"uploader", "power_source"} <= _graph_nodes(probe), 30.0)
    assert probe.spin_until(queue.is_dir, 10.0)  # the uploader opened the queue there
    assert not (home / ".local" / "state" / "wildcam" / "upload").exists()  # not the shared one

    from wildcam.bringup import Supervisor
    from wildcam.graph import node

    logs = tmp_path / "logs"
    logs.mkdir()
    sup = Supervisor(
        [node("camera_driver"), node("motion_detector")],
        Path(default_params_file()),
        env=procs.env,
        log_dir=logs,
    )
    sup.start()
    try:
        assert probe.spin_until(
            lambda: all(
                "started (pid" in (logs / f"{n}.log").read_text(errors="replace")
                for n in ("camera_driver", "motion_detector")
            ),
            30.0,
        )
    finally:
        sup.stop()
    assert "[camera_driver]" in (logs / "camera_driver.log").read_text()  # its own lines only
    assert "[camera_driver]" not in (logs / "motion_detector.log").read_text()


def test_composed_mode_runs_every_node_in_one_process(probe, procs) -> None:  # type: ignore[no-untyped-def]
    infos = probe.collect(CameraInfo, "camera/small/camera_info", SENSOR_SUB)
    proc = procs.start(["-m", "wildcam.cli", "bringup", "--composed"], "composed")
    expected = {n.name for n in NODES if not n.on_request}
    assert probe.spin_until(lambda: expected <= _graph_nodes(probe), 30.0)
    assert probe.spin_until(lambda: len(infos) >= 3, 20.0)
    assert _pids(procs.log("composed")) == {}  # no child processes
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0, procs.log("composed")
