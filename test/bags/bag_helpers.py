"""Helpers shared by the bag tests (imported by name: pytest puts this directory on sys.path)."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from pathlib import Path
from typing import Any

from wildcam.camera.synthetic import SceneConfig, Visit, empty_scene

FPS = 10.0


def small_scene(duration_s: float = 5.0, width: int = 320, height: int = 240) -> SceneConfig:
    """A short scene with a fox walking through, small enough to render in well under a second."""
    base = empty_scene(duration_s, seed=3)
    visit = Visit(min(0.5, duration_s / 4), duration_s / 2, "fox", size=0.3, speed=0.6)
    return dataclasses.replace(base, width=width, height=height, fps=FPS, visits=(visit,))


class BagTool:
    """Runs ``python -m wildcam.bags ...`` through the test's process starter (the ``procs``
    fixture: the test's ROS environment; at teardown SIGINT, a kill only for a straggler)."""

    def __init__(self, procs: Any) -> None:
        self.procs = procs
        self.names: dict[int, str] = {}  # pid -> log name

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start a bag subcommand; its output goes to a log file (see :meth:`output`)."""
        name = f"bagtool{len(self.names)}"
        proc: subprocess.Popen[bytes] = self.procs.start(["-m", "wildcam.bags", *args], name)
        self.names[proc.pid] = name
        return proc

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        """What ``proc`` printed so far."""
        return str(self.procs.log(self.names[proc.pid]))

    def wait_for_output(self, proc: subprocess.Popen[bytes], text: str, timeout_s: float) -> bool:
        """Wait until ``proc`` printed ``text`` (False on timeout or if it exited first)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if text in self.output(proc):
                return True
            if proc.poll() is not None:
                return text in self.output(proc)
            time.sleep(0.02)
        return False


def decode_mcap(bag: Path) -> tuple[dict[str, dict[str, str]], dict[str, list[object]]]:
    """Read every message of a bag's MCAP file with the independent ``mcap`` +
    ``mcap-ros2-support`` decoder (not rosbags): (topic -> channel metadata,
    topic -> decoded messages)."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    (path,) = bag.glob("*.mcap")
    metadata: dict[str, dict[str, str]] = {}
    decoded: dict[str, list[object]] = {}
    with path.open("rb") as handle:
        reader = make_reader(handle, decoder_factories=[DecoderFactory()])
        for channel in reader.get_summary().channels.values():
            metadata[channel.topic] = dict(channel.metadata)
        for _, channel, _, message in reader.iter_decoded_messages():
            decoded.setdefault(channel.topic, []).append(message)
    return metadata, decoded


def installed_type_hash(msgtype: str) -> str:
    """The RIHS01 hash rosidl generated for ``pkg/msg/Name`` (its installed ``.json``)."""
    import json

    from ament_index_python.packages import get_package_share_directory

    package, _, name = msgtype.split("/")
    path = Path(get_package_share_directory(package)) / "msg" / f"{name}.json"
    hashes = json.loads(path.read_text())["type_hashes"]
    return str(next(h["hash_string"] for h in hashes if h["type_name"] == msgtype))
