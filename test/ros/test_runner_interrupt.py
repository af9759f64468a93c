"""Ctrl-C is a clean stop even when it lands inside rclpy's native code, where rclpy reports it
as a ``RuntimeError`` ("Unable to convert call argument") while its context is still up; the
same error without an interrupt is a fault and ends the process with a failure."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import signal, sys
from rclpy.node import Node
from wildcam.ros.runner import spin_nodes

INTERRUPT = sys.argv[1] == "interrupt"

class Taker(Node):
    def __init__(self):
        super().__init__("taker")
        self.create_timer(0.05, self._take)

    def _take(self):
        # What rclpy's take does when Python runs its SIGINT handler during the conversion of
        # a taken message, before rclpy's signal thread has shut the context down: the
        # KeyboardInterrupt becomes a RuntimeError. The handler is called directly so that
        # the context is still up, as it was when this happened in CI.
        try:
            if INTERRUPT:
                signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
        except KeyboardInterrupt:
            pass
        raise RuntimeError("Unable to convert call argument '0' to Python object")

raise SystemExit(spin_nodes([Taker], ["taker"]))
"""


@pytest.mark.parametrize(("how", "code"), [("interrupt", 0), ("fault", 1)])
def test_an_interrupt_inside_a_take_is_a_clean_stop(  # type: ignore[no-untyped-def]
    ros_env, how: str, code: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CODE, how], env=ros_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == code, done.stderr
    assert ("Unable to convert" in done.stderr) == (code != 0)
