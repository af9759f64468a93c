"""The held-burst store: PIR bursts a power controller captured while the SoC was off, waiting on
the Pi's storage to be analysed (the controller's contract; no OpenCV here, so the power manager
can read the store's status cheaply).

Layout of ``<held_dir>``::

    burst-<trigger_ns>/              one complete burst, appeared by a rename
        manifest.json                {"format": "wildcam-held-burst", "version": 1,
                                      "trigger_ns": <int>, "frames": ["<captured_ns>.jpg", ...]}
        <captured_ns>.jpg            one frame (JPEG or PNG), named by its capture time
    .partial-<anything>/             being written: ignored
    .undecodable-<captured_ns>.jpg   a frame the Pi could not decode, kept aside
    .undecided-<captured_ns>.jpg     a frame the graph did not decide after repeated sends, kept

Times are integer nanoseconds since the Unix epoch (UTC) on the controller's clock. The
controller writes a burst into a ``.partial-*`` directory (frames first, the manifest last)
and renames it to ``burst-<trigger_ns>`` when it is complete, so the Pi never sees half a
burst. The Pi removes each frame file once its frame was decided (the motion gate and, for a
frame in a motion event, the cascade acknowledged it), and the burst directory once its last
frame is gone; a frame the manifest lists whose file is missing was decided already. A crash
between a publish and its removal publishes that frame once more on the next start: frames may
repeat, never go missing.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from wildcam.errors import InputError
from wildcam.fileio import fsync_directory, write_durably

__all__ = [
    "FORMAT",
    "HeldBurst",
    "HeldFrame",
    "pending_frames",
    "remove_frame",
    "scan",
    "write_burst",
]

FORMAT = "wildcam-held-burst"
VERSION = 1
_BURST = re.compile(r"^burst-(\d+)$")
_FRAME = re.compile(r"^(\d+)\.(jpg|jpeg|png)$")


@dataclass(frozen=True)
class HeldFrame:
    """One held frame: its file and its capture time (ns since the epoch)."""

    path: Path
    captured_ns: int


@dataclass(frozen=True)
class HeldBurst:
    """A complete burst: its directory, trigger time and the frames not yet decided."""

    path: Path
    trigger_ns: int
    frames: tuple[HeldFrame, ...]


def _read_manifest(burst_dir: Path, trigger_ns: int) -> HeldBurst:
    manifest = burst_dir / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError) as err:
        raise InputError(f"held burst {burst_dir}: unreadable manifest: {err}") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or data.get("version") != VERSION
    ):
        raise InputError(f"held burst {burst_dir}: not a {FORMAT} v{VERSION} manifest")
    if data.get("trigger_ns") != trigger_ns:
        raise InputError(f"held burst {burst_dir}: trigger_ns differs from the directory name")
    names = data.get("frames")
    if not isinstance(names, list):
        raise InputError(f"held burst {burst_dir}: 'frames' must be a list of file names")
    frames = []
    for name in names:
        match = _FRAME.match(name) if isinstance(name, str) else None
        if match is None:
            raise InputError(f"held burst {burst_dir}: bad frame name {name!r}")
        path = burst_dir / name
        if path.exists():  # missing: decided already
            frames.append(HeldFrame(path, int(match.group(1))))
    return HeldBurst(burst_dir, trigger_ns, tuple(sorted(frames, key=lambda f: f.captured_ns)))


def scan(held_dir: Path) -> tuple[list[HeldBurst], list[str]]:
    """The complete bursts in ``held_dir``, oldest trigger first, and a problem per burst
    directory that could not be read (left in place for a person to look at)."""
    if not held_dir.is_dir():
        return [], []
    bursts, problems = [], []
    for entry in held_dir.iterdir():
        match = _BURST.match(entry.name)
        if match is None or not entry.is_dir():
            continue
        try:
            bursts.append(_read_manifest(entry, int(match.group(1))))
        except InputError as err:
            problems.append(str(err))
    bursts.sort(key=lambda b: b.trigger_ns)
    return bursts, problems


def pending_frames(held_dir: Path) -> int:
    """How many held frames still wait to be decided (0 when the store does not exist)."""
    return sum(len(b.frames) for b in scan(held_dir)[0])


def remove_frame(burst: HeldBurst, frame: HeldFrame) -> None:
    """A frame was decided: remove its file, and the burst once no frame is left."""
    frame.path.unlink(missing_ok=True)
    if not any(f.path.exists() for f in burst.frames):
        shutil.rmtree(burst.path, ignore_errors=True)
        fsync_directory(burst.path.parent)


def write_burst(held_dir: Path, trigger_ns: int, frames: list[tuple[int, bytes, str]]) -> Path:
    """Write one burst as the controller does: ``frames`` are (captured_ns, encoded bytes,
    suffix ``.jpg`` or ``.png``); files and manifest go to a ``.partial-*`` directory, renamed
    into place when complete. Returns the burst's directory."""
    held_dir.mkdir(parents=True, exist_ok=True)
    final = held_dir / f"burst-{trigger_ns}"
    if final.exists():
        raise InputError(f"held burst {final} exists already")
    partial = held_dir / f".partial-{trigger_ns}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    names = []
    for captured_ns, data, suffix in frames:
        name = f"{captured_ns}{suffix}"
        if _FRAME.match(name) is None:
            raise InputError(f"bad held frame name {name!r}")
        write_durably(partial / name, data)
        names.append(name)
    manifest = {"format": FORMAT, "version": VERSION, "trigger_ns": trigger_ns, "frames": names}
    write_durably(partial / "manifest.json", json.dumps(manifest).encode())
    partial.rename(final)
    fsync_directory(held_dir)
    return final
