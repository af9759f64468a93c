"""``wildcam install-service``: the unit it writes under a staging root, the dry run, and clear
refusals (exit 2, one line, nothing written)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wildcam.cli import main


@pytest.fixture
def params(tmp_path: Path) -> Path:
    path = tmp_path / "trap.yaml"
    path.write_text("/**/camera_driver:\n  ros__parameters:\n    fps: 2.0\n")
    return path


def test_unit_written_under_the_prefix(
    tmp_path: Path, params: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert (
        main(
            [
                "install-service",
                "--prefix",
                str(root),
                "--params-file",
                str(params),
                "--user",
                "root",
                "--with",
                "pir_trigger",
            ]
        )
        == 0
    )
    unit = root / "etc" / "systemd" / "system" / "wildcam.service"
    text = unit.read_text()
    wildcam = Path(sys.executable).with_name("wildcam")
    assert f"ExecStart={wildcam} bringup --params-file {params} --with pir_trigger\n" in text
    assert "User=root\n" in text and "Restart=on-failure\n" in text
    assert "After=time-sync.target network.target\n" in text
    assert "WantedBy=multi-user.target\n" in text
    assert "network-online" not in text  # a trap without a link still starts
    out = capsys.readouterr().out
    assert f"wrote {unit}" in out and "systemctl enable --now wildcam.service" in out
    analyze = shutil.which("systemd-analyze")
    if analyze:  # systemd's own check of the unit, where this host has it
        result = subprocess.run(
            [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr


def test_dry_run_prints_and_writes_nothing(
    tmp_path: Path, params: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "install-service",
                "--prefix",
                str(tmp_path),
                "--params-file",
                str(params),
                "--user",
                "pi",
                "--name",
                "trap1",
                "--composed",
                "--dry-run",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "trap1.service (dry run: not written)" in out and "User=pi" in out
    assert f"bringup --params-file {params} --composed\n" in out  # a Zero 2 W's one process
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--params-file", "/no/such.yaml"], "parameters file /no/such.yaml not found"),
        (["--user", "Bad User"], "not a valid login name"),
        (["--with", "camera_driver"], "not an on-request node"),
        (["--name", "a/b"], "not a valid unit name"),
        (["--prefix", "/no/such/root"], "is not a directory"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, params: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"--prefix": str(tmp_path), "--params-file": str(params), "--user": "root"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["install-service"] + [w for kv in base.items() for w in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "etc").exists()


def test_bringup_with_adds_on_request_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    from wildcam.bringup import select
    from wildcam.graph import NODES

    default = [n.name for n in NODES if not n.on_request]
    assert [s.name for s in select(None, ["pir_trigger"])] == [*default, "pir_trigger"]
    assert [s.name for s in select(["camera_driver", "pir_trigger"], ["pir_trigger"])] == [
        "camera_driver",
        "pir_trigger",
    ]
    assert main(["bringup", "--with", "no_such_node", "--duration", "0"]) == 2
    assert "no node 'no_such_node'" in capsys.readouterr().err
