"""One exit-code convention for every verb, through the real ``wildcam`` entry point.

0 success, 1 the run itself failed, 2 bad input or configuration: one line on stderr, never a
traceback. Every verb has a case; each is a quick start of the installed command.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from wildcam.cli import build_parser

WILDCAM = Path(sys.executable).parent / "wildcam"
NO_GATEWAY = "http://127.0.0.1:9"  # discard port: nothing listens there


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    if not WILDCAM.is_file():
        pytest.skip(f"{WILDCAM} is not installed (run make setup)")
    return subprocess.run(
        [str(WILDCAM), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


CASES = [
    # (verb, arguments, expected code, text expected on stdout or stderr)
    ("run", ["--param", "camera_drivr.fps=2.0"], 2, "no node 'camera_drivr'"),
    ("run", ["--param", "camera_driver.fps=abc"], 2, "camera_driver.fps='abc': allowed: float"),
    ("run", ["--preset", "empty", "--day-length", "60"], 2, "--day-length applies to the day"),
    ("bringup", ["--nodes", "camera_drivr"], 2, "--nodes: no node 'camera_drivr'"),
    ("bringup", ["--params-file", "{tmp}/missing.yaml"], 2, "missing.yaml: cannot read"),
    ("docs", [], 0, "| node | executable |"),
    ("docs", ["--write", "{tmp}/missing.md"], 2, "missing.md not found"),
    ("eval", [], 2, "give --labels CSV"),
    ("eval", ["--labels", "{tmp}/missing.csv"], 2, "cannot read labels"),
    ("detect", ["{tmp}/missing", "--out", "{tmp}/d.json"], 2, "missing does not exist"),
    ("lifetime", ["--days", "0"], 2, "days >= 1"),
    ("lifetime", ["--profile", "rpi9"], 2, "invalid choice: 'rpi9'"),
    (
        "install-service",
        ["--params-file", "{tmp}/missing.yaml", "--dry-run"],
        2,
        "missing.yaml not found",
    ),
    ("rtc-sleep", ["60", "--dry-run"], 0, "would write 0, then the alarm"),
    (
        "rtc-sleep",
        ["120", "--rtc", "rtc9", "--sysfs-root", "{tmp}", "--command", "true"],
        2,
        "wildcam rtc-sleep: ",
    ),
    ("gateway", ["keygen", "--out", "{tmp}/keys"], 0, "public key"),
    ("gateway", ["list", "--url", NO_GATEWAY, "--token-file", "{tmp}/missing"], 2, "token file"),
    (
        "gateway",
        ["list", "--url", NO_GATEWAY, "--token-file", "{tmp}/token"],
        1,
        "Connection refused",
    ),
    (
        "gateway",
        [
            "publish",
            "--url",
            NO_GATEWAY,
            "--token-file",
            "{tmp}/token",
            "--key",
            "{tmp}/k",
            "--update-id",
            "u",
            "--version",
            "1",
            "--file",
            "m.onnx={tmp}/missing.onnx",
        ],
        2,
        "No such file or directory: {tmp}/missing.onnx",
    ),
    ("power-sim", ["--hours", "1"], 0, "hours in mode"),
    ("power-sim", ["--capacity-wh", "-1"], 2, "capacity_wh"),
    ("power-sim", ["--policy", "{tmp}/missing.yaml"], 2, "missing.yaml"),
    ("param", ["get", "/nowhere", "fps", "--timeout", "0.5"], 2, "node /nowhere not found"),
    ("param", ["list", "--timeout", "0.5"], 0, ""),
    ("topic", ["echo", "/nowhere", "--timeout", "0.5"], 2, "topic /nowhere not found"),
    ("topic", ["list", "--timeout", "0.5"], 0, "/rosout"),
    ("bag", ["info", "{tmp}/missing"], 2, "bag not found"),
    ("bag", ["generate", "-o", "{tmp}/b", "--duration", "0"], 2, "must be > 0"),
    ("bag", ["record", "-o", "{tmp}/b"], 2, "name topics to record, or pass --all"),
    ("report", ["{tmp}/missing"], 2, "bag not found"),
    ("report", ["{tmp}"], 2, "is not a rosbag2 bag"),
]


def _verbs() -> set[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_every_verb_has_a_case() -> None:
    assert {c[0] for c in CASES} == _verbs()


@pytest.mark.parametrize(
    ("verb", "args", "code", "said"),
    CASES,
    ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)],
)
def test_exit_code(
    verb: str, args: list[str], code: int, said: str, ros_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("a-well-formed-device-token\n")
    result = _run([verb, *(a.format(tmp=tmp_path) for a in args)], ros_env, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert said.format(tmp=tmp_path) in output
    assert "Traceback" not in output
    if code == 2 and not result.stderr.startswith("usage:"):  # argparse's own are longer
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
