"""Bringup's supervisor with stand-in children (no ROS): respawn, configuration errors, logs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wildcam.bringup import Supervisor, clean_port_files, own_queue_params
from wildcam.errors import EXIT_CONFIG, EXIT_FAILED, EXIT_USAGE
from wildcam.graph import node


def _supervisor(tmp_path: Path, code: int, said: str) -> Supervisor:
    sup = Supervisor(
        [node("camera_driver")],
        tmp_path / "unused.yaml",
        env={},
        max_restarts=2,
        backoff_s=0.01,
        log_dir=tmp_path,
    )
    script = f"import sys; print({said!r}, file=sys.stderr); sys.exit({code})"
    sup.children[0].command = [sys.executable, "-c", script]
    sup.managed = []  # a stand-in, no lifecycle node: no lifecycle helper either
    return sup


def test_a_configuration_error_stops_at_once_with_the_node_s_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sup = _supervisor(tmp_path, EXIT_CONFIG, "wildcam: cannot start CameraDriver: fps=1000")
    assert sup.run(duration_s=30.0) == EXIT_USAGE
    assert sup.exits == [("camera_driver", EXIT_CONFIG)]  # started once, not respawned
    err = capsys.readouterr().err
    assert "camera_driver cannot start with this configuration" in err
    assert "fps=1000" in err and "respawning" not in err


def test_a_node_that_keeps_failing_is_respawned_then_given_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sup = _supervisor(tmp_path, 1, "crashed")
    assert sup.run(duration_s=60.0) == EXIT_FAILED
    assert sup.exits == [("camera_driver", 1)] * 3
    err = capsys.readouterr().err
    assert err.count("respawning") == 2 and "failed 3 times" in err
    assert (tmp_path / "camera_driver.log").read_text().count("crashed") == 3  # its own log


def test_bringup_gives_the_uploader_a_queue_of_its_own(tmp_path: Path) -> None:
    import yaml

    path = own_queue_params({}, tmp_path / "state")
    assert path is not None
    assert yaml.safe_load(path.read_text()) == {
        "/**/uploader": {"ros__parameters": {"queue_dir": str(tmp_path / "state" / "queue")}}
    }
    assert own_queue_params({"uploader": {"queue_dir": "/data/q"}}, tmp_path / "x") is None


def test_port_files_no_process_maps_are_removed_with_their_semaphore(tmp_path: Path) -> None:
    import mmap

    def port(n: int) -> Path:
        path = tmp_path / f"fastdds_port{n}"
        for f in (path, tmp_path / f"sem.{path.name}_mutex"):
            f.write_bytes(b"\0" * 4096)
        return path

    stale, locked, mapped = port(7100), port(7101), port(7102)
    (tmp_path / "fastdds_port7101_el").write_bytes(b"")  # fastdds shm clean's business
    (tmp_path / "fastdds_other").write_bytes(b"")
    with mapped.open("r+b") as handle, mmap.mmap(handle.fileno(), 4096):  # a live user
        assert clean_port_files(tmp_path) == ["fastdds_port7100"]
    assert not stale.exists() and not (tmp_path / "sem.fastdds_port7100_mutex").exists()
    assert locked.exists() and mapped.exists()
    assert (tmp_path / "sem.fastdds_port7102_mutex").exists()
