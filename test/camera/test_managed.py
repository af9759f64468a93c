"""The camera driver's managed-node logic without ROS: ``enabled`` as lifecycle transitions,
the expected rate, capture stamps, the calibration note and holding the source."""

from __future__ import annotations

import numpy as np
import pytest

from wildcam.camera.base import CameraSource
from wildcam.camera.calibration import Calibration
from wildcam.camera.capture import CameraConfig
from wildcam.camera.fake import FakeSource
from wildcam.camera.managed import (
    EnabledFollow,
    SourceHolder,
    calibration_note,
    capture_stamp_ns,
    expected_rate,
)
from wildcam.errors import SourceError
from wildcam.params import build_config


def test_enabled_deactivates_and_reactivates_only_what_it_deactivated() -> None:
    follow = EnabledFollow()
    assert follow.start(enabled=True) == ["configure", "activate"]
    assert follow.changed(False, "active") == "deactivate"
    assert follow.changed(True, "inactive") == "activate"
    # Then a lifecycle manager deactivates it: toggling enabled does not activate it.
    assert follow.changed(False, "inactive") is None
    assert follow.changed(True, "inactive") is None


def test_autostart_disabled_configures_only_and_enabling_activates() -> None:
    follow = EnabledFollow()
    assert follow.start(enabled=False) == ["configure"]
    assert follow.changed(True, "inactive") == "activate"


def test_expected_rate_only_while_streaming() -> None:
    warm = build_config(CameraConfig, {"fps": 4.0})
    assert expected_rate(warm, "active") == (4.0, 4.0)
    assert expected_rate(warm, "inactive") is None
    assert expected_rate(build_config(CameraConfig, {"trigger_mode": True}), "active") is None
    assert expected_rate(build_config(CameraConfig, {"enabled": False}), "active") is None


def test_capture_stamp_is_now_less_the_age_never_negative() -> None:
    assert capture_stamp_ns(5_000_000_000, 0.25) == 4_750_000_000
    assert capture_stamp_ns(100, 1.0) == 0


def test_calibration_note_says_whether_it_applies() -> None:
    cal = Calibration(
        "cam", 640, 480, "plumb_bob", (1.0,) * 9, (0.0,) * 5, (1.0,) * 9, (1.0,) * 12
    )
    assert calibration_note(cal, 640, 480) == "applied"
    assert "640x480 does not match 320x240" in calibration_note(cal, 320, 240)


def _frames(n: int) -> list[np.ndarray]:
    return [np.full((4, 4, 3), i, np.uint8) for i in range(n)]


def test_holder_retries_a_failed_open_after_the_reopen_period() -> None:
    cfg = build_config(CameraConfig, {"reopen_period_s": 2.0})
    attempts: list[float] = []

    def opener(_: CameraConfig) -> CameraSource:
        attempts.append(0)
        if len(attempts) == 1:
            raise SourceError("no device")
        return FakeSource(_frames(2), fps=1.0)

    holder = SourceHolder(opener)
    with pytest.raises(SourceError):
        holder.open(cfg, 10.0)
    assert holder.open(cfg, 11.0) is None and len(attempts) == 1  # too soon
    assert holder.open(cfg, 12.0) is not None and holder.opens == 1
    assert holder.open(cfg, 12.5) is holder.source and len(attempts) == 2  # kept open


def test_holder_closes_a_failing_source_and_notes_the_end_of_stream() -> None:
    cfg = build_config(CameraConfig, {})
    sources = iter([FakeSource(_frames(1), fps=1.0, fail_at={0}), FakeSource(_frames(1), 1.0)])
    holder = SourceHolder(lambda _: next(sources))
    holder.open(cfg, 0.0)
    with pytest.raises(SourceError):
        holder.read()
    assert holder.source is None
    holder.open(cfg, 0.0)
    assert holder.read() is not None and not holder.finished
    assert holder.read() is None and holder.finished
    assert holder.close() and not holder.close()
