"""One logging story: library modules log through :mod:`logging` (``wildcam.<part>``
loggers); a node process routes those records to its node's ROS logger, so they reach
``/rosout`` with everything else the node says; the CLI and the bringup supervisor print them
with one formatter (``[bringup] started camera_driver (pid 12)``): information on stdout,
warnings and errors on stderr. No rclpy here.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["ROOT", "RosLogHandler", "TerminalHandler", "routed_to_ros", "to_terminal"]

ROOT = logging.getLogger("wildcam")
"""The parent of every library logger (``wildcam.upload``, ``wildcam.bringup``, ...)."""


class _Formatter(logging.Formatter):
    """``[part] message``: the logger's name without the ``wildcam.`` prefix."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"[{record.name.removeprefix('wildcam.')}] {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class TerminalHandler(logging.Handler):
    """Information to stdout, warnings and errors to stderr (the streams of the moment, so a
    redirected or captured stream gets them), flushed at once."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(_Formatter())

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stdout if record.levelno < logging.WARNING else sys.stderr
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging must not take the caller down
            self.handleError(record)


class RosLogHandler(logging.Handler):
    """Forwards records to a ROS logger (a node's ``get_logger()``), at the same severity."""

    def __init__(self, ros_logger: Any) -> None:
        super().__init__()
        self.ros_logger = ros_logger
        self.setFormatter(_Formatter())

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        try:
            if record.levelno >= logging.CRITICAL:
                self.ros_logger.fatal(text)
            elif record.levelno >= logging.ERROR:
                self.ros_logger.error(text)
            elif record.levelno >= logging.WARNING:
                self.ros_logger.warning(text)
            elif record.levelno >= logging.INFO:
                self.ros_logger.info(text)
            else:
                self.ros_logger.debug(text)
        except Exception:  # noqa: BLE001 - logging must not take the node down
            self.handleError(record)


def to_terminal() -> None:
    """Print wildcam's library logs on the terminal (once per process; the CLI, bringup)."""
    if not any(isinstance(h, TerminalHandler) for h in ROOT.handlers):
        ROOT.addHandler(TerminalHandler())
    ROOT.setLevel(logging.INFO)
    ROOT.propagate = False


@contextmanager
def routed_to_ros(ros_logger: Any) -> Iterator[None]:
    """While the block runs, wildcam's library logs go to ``ros_logger`` only."""
    saved, saved_level, saved_propagate = ROOT.handlers[:], ROOT.level, ROOT.propagate
    ROOT.handlers = [RosLogHandler(ros_logger)]
    ROOT.setLevel(logging.INFO)
    ROOT.propagate = False
    try:
        yield
    finally:
        ROOT.handlers, ROOT.propagate = saved, saved_propagate
        ROOT.setLevel(saved_level)
