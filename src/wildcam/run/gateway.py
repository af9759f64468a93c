"""The run's local gateway: ``wildcam gateway`` on 127.0.0.1 as a child process, and the
listing of what it received."""

from __future__ import annotations

import atexit
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from wildcam.rosenv import ros_environment

__all__ = ["LocalGateway", "fetch_listing"]


class LocalGateway:
    """``wildcam gateway`` on 127.0.0.1 (a child process), store and token file in ``directory``.

    The token is a fresh random one in a 0600 file; the port is any free one, read back from
    the line the gateway prints once it serves.
    """

    def __init__(self, directory: Path, log: Path) -> None:
        self.token_file = directory / "gateway.token"
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        self.url = ""
        self._log_path = log
        with log.open("wb") as sink:
            self.process = subprocess.Popen(  # stopped at exit at the latest
                [
                    sys.executable,
                    "-m",
                    "wildcam.cli",
                    "gateway",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--store",
                    str(directory / "gateway"),
                    "--token-file",
                    str(self.token_file),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=ros_environment(),
            )
        atexit.register(self.stop)

    def wait_ready(self, timeout_s: float = 30.0) -> str | None:
        """Wait until the gateway serves; a failure reason or None."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            log = self._log_path.read_text(errors="replace")
            found = re.search(r"serving (https?://\S+)", log)
            if found:
                self.url = found.group(1)
                return None
            if self.process.poll() is not None:
                return (
                    f"the gateway exited with code {self.process.returncode} (see "
                    f"{self._log_path})"
                )
            time.sleep(0.1)
        return "the gateway did not start in time"

    def serve_until_interrupted(self) -> None:
        """Keep the gateway (and its review page) serving until Ctrl-C, then stop it."""
        try:
            self.process.wait()
        except KeyboardInterrupt:
            pass
        self.stop()

    def stop(self) -> None:
        """Stop the gateway process."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def fetch_listing(url: str, token_file: Path) -> list[dict[str, Any]]:
    """Every item the gateway at ``url`` lists."""
    from wildcam.upload.transport import HttpTransport

    transport = HttpTransport(url, str(token_file))
    try:
        return list(transport.list_items())
    finally:
        transport.close()
