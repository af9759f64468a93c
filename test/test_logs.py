"""One logging story: library records reach a node's ROS logger, or the terminal with one
format (information on stdout, warnings and errors on stderr)."""

from __future__ import annotations

import logging

import pytest

from wildcam.logs import ROOT, routed_to_ros, to_terminal


class FakeRosLogger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __getattr__(self, severity: str) -> object:
        return lambda text: self.lines.append((severity, text))


def test_library_records_go_to_the_node_logger_while_routed() -> None:
    ros = FakeRosLogger()
    before = ROOT.handlers[:]
    with routed_to_ros(ros):
        logging.getLogger("wildcam.upload").error("upload step failed: %s", "boom")
        logging.getLogger("wildcam.upload").warning("item %s dead-lettered", "k1")
        logging.getLogger("wildcam.gateway").info("stored")
    assert ros.lines == [
        ("error", "[upload] upload step failed: boom"),
        ("warning", "[upload] item k1 dead-lettered"),
        ("info", "[gateway] stored"),
    ]
    assert ROOT.handlers == before  # restored afterwards


def test_the_terminal_gets_information_on_stdout_and_problems_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    to_terminal()
    to_terminal()  # once per process, however often asked
    logging.getLogger("wildcam.bringup").info("started camera_driver (pid 12)")
    logging.getLogger("wildcam.bringup").error("giving up: camera_driver failed")
    out, err = capsys.readouterr()
    assert out == "[bringup] started camera_driver (pid 12)\n"
    assert err == "[bringup] giving up: camera_driver failed\n"
