"""Bringup's exit-code rule: a node that exits with EXIT_NEEDS_OPERATOR is not respawned (the
others keep running); any other failure is."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from wildcam.bringup import Supervisor
from wildcam.errors import EXIT_NEEDS_OPERATOR
from wildcam.graph import node


def _supervise(tmp_path: Path, code: int) -> tuple[Supervisor, str | None]:
    sup = Supervisor(
        [node("uploader")],
        tmp_path / "params.yaml",
        env={},
        backoff_s=0.01,
        backoff_max_s=0.01,
        max_restarts=50,
    )
    sup.children[0].command = [sys.executable, "-c", f"raise SystemExit({code})"]
    failure = None
    starts = 0
    deadline = time.monotonic() + 10.0
    sup.start()
    while time.monotonic() < deadline and starts < 3 and failure is None:
        proc = sup.children[0].process
        if proc is not None:
            proc.wait(10)
            starts += 1
        failure = sup.poll()
        if sup.children[0].next_start == float("inf"):
            break
        time.sleep(0.02)
    return sup, failure


def test_needs_operator_exit_is_not_respawned(tmp_path: Path) -> None:
    sup, failure = _supervise(tmp_path, EXIT_NEEDS_OPERATOR)
    assert failure is None and sup.children[0].process is None
    assert sup.children[0].next_start == float("inf")
    sup.poll()
    assert sup.children[0].process is None  # still not started again


def test_other_failures_are_respawned(tmp_path: Path) -> None:
    sup, failure = _supervise(tmp_path, 2)
    assert failure is None and len(sup.children[0].restarts) >= 2
    sup.stop()
