"""Held bursts: the controller's store contract, the source that reads it (capture stamps,
burst order, removal only after a commit, nothing lost on a crash) and bad stores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wildcam.camera import CameraSource, FakeController, HeldBurstSource
from wildcam.camera.held_store import pending_frames, scan, write_burst
from wildcam.errors import InputError, SourceError

T0 = 1_782_000_000_000_000_000  # ns since the epoch


def _image(value: int) -> np.ndarray:
    img = np.full((48, 64, 3), value, np.uint8)
    img[:24, :32] = 255 - value
    return img


def _bursts(held: Path) -> dict[int, list[int]]:
    """Two bursts of three frames, written out of order: trigger -> capture times."""
    controller = FakeController(held, suffix=".png")
    plan = {T0 + 60 * 10**9: [0, 1, 2], T0: [0, 1, 2]}
    out = {}
    for trigger, offsets in plan.items():
        stamps = [trigger + 100_000_000 * (k + 1) for k in offsets]
        controller.write(trigger, [(s, _image(40 * (k + 1))) for k, s in enumerate(stamps)])
        out[trigger] = stamps
    return out


def test_held_frames_come_in_burst_order_with_capture_stamps_and_go_once_committed(
    tmp_path: Path,
) -> None:
    held = tmp_path / "held"
    written = _bursts(held)
    source = HeldBurstSource(held)
    assert isinstance(source, CameraSource)
    assert pending_frames(held) == 6
    stamps = []
    while (frame := source.read()) is not None:
        assert frame.captured_epoch_ns is not None
        assert frame.stamp == pytest.approx(frame.captured_epoch_ns * 1e-9)
        assert frame.image.shape == (48, 64, 3)
        stamps.append(frame.captured_epoch_ns)
        source.commit()
        assert pending_frames(held) == 6 - len(stamps)
    assert stamps == written[T0] + written[T0 + 60 * 10**9]
    assert list(held.iterdir()) == []  # each burst directory went with its last frame
    source.close()
    with pytest.raises(SourceError):
        source.read()


def test_a_crash_before_the_commit_publishes_that_frame_again_and_loses_none(
    tmp_path: Path,
) -> None:
    held = tmp_path / "held"
    written = _bursts(held)
    everything = sorted(s for stamps in written.values() for s in stamps)
    first = HeldBurstSource(held)
    seen = []
    for _ in range(4):  # three published and committed, the fourth read when the node dies
        frame = first.read()
        assert frame is not None and frame.captured_epoch_ns is not None
        seen.append(frame.captured_epoch_ns)
        if len(seen) < 4:
            first.commit()
    again = HeldBurstSource(held)  # the restarted node
    assert pending_frames(held) == 3
    rest = []
    while (frame := again.read()) is not None:
        assert frame.captured_epoch_ns is not None
        rest.append(frame.captured_epoch_ns)
        again.commit()
    assert rest[0] == seen[-1]  # read again: at least once
    assert sorted(set(seen + rest)) == everything


def test_a_frame_read_twice_without_commit_is_the_same_frame(tmp_path: Path) -> None:
    held = tmp_path / "held"
    _bursts(held)
    source = HeldBurstSource(held)
    a, b = source.read(), source.read()
    assert a is not None and b is not None and a.captured_epoch_ns == b.captured_epoch_ns


def test_partial_bursts_are_ignored_and_a_bad_manifest_is_reported_and_kept(
    tmp_path: Path,
) -> None:
    held = tmp_path / "held"
    _bursts(held)
    (held / ".partial-5").mkdir()  # the controller is still writing it
    (held / ".partial-5" / "7.png").write_bytes(b"x")
    bad = held / f"burst-{T0 + 1}"
    bad.mkdir()
    (bad / "manifest.json").write_text(json.dumps({"format": "other"}))
    bursts, problems = scan(held)
    assert [len(b.frames) for b in bursts] == [3, 3]
    assert len(problems) == 1 and "manifest" in problems[0]
    source = HeldBurstSource(held)
    while source.read() is not None:
        source.commit()
    assert source.problems == problems
    assert bad.is_dir() and (held / ".partial-5").is_dir()  # nothing removed that was not sent


def test_an_undecodable_frame_is_skipped_and_the_burst_goes_on(tmp_path: Path) -> None:
    held = tmp_path / "held"
    stamps = [T0 + 1, T0 + 2, T0 + 3]
    write_burst(held, T0, [(s, b"not a jpeg", ".jpg") for s in stamps[:1]] + [])
    FakeController(held).write(T0 + 10, [(s, _image(90)) for s in stamps[1:]])
    source = HeldBurstSource(held)
    got = []
    while (frame := source.read()) is not None:
        got.append(frame.captured_epoch_ns)
        source.commit()
    assert got == stamps[1:]
    assert [p.name for p in source.skipped] == [f".undecodable-{T0 + 1}.jpg"]
    assert source.skipped[0].read_bytes() == b"not a jpeg"  # kept, not deleted
    assert pending_frames(held) == 0


def test_a_burst_is_written_once(tmp_path: Path) -> None:
    held = tmp_path / "held"
    FakeController(held).write(T0, [(T0 + 1, _image(10))])
    with pytest.raises(InputError, match="exists already"):
        FakeController(held).write(T0, [(T0 + 1, _image(10))])


def test_a_frame_set_aside_is_kept_and_the_burst_goes_on(tmp_path: Path) -> None:
    held = tmp_path / "held"
    written = _bursts(held)
    source = HeldBurstSource(held)
    first = source.read()
    assert first is not None
    aside = source.set_aside()
    assert aside == held / f".undecided-{first.captured_epoch_ns}.png"
    assert aside.is_file() and source.skipped == [aside]
    assert source.set_aside() is None  # nothing read since
    rest = []
    while (frame := source.read()) is not None:
        rest.append(frame.captured_epoch_ns)
        source.commit()
    assert rest == written[T0][1:] + written[T0 + 60 * 10**9]
    assert pending_frames(held) == 0 and [p.name for p in held.iterdir()] == [aside.name]
