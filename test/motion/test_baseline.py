"""Mog2Gate: the MOG2 baseline shares the gate's interface and post-processing."""

from __future__ import annotations

from motion_frames import FULL, SmallScene  # test-local helpers

from wildcam.motion import Gate, Mog2Gate, MotionConfig


def test_mog2_baseline_detects_a_moving_square_and_is_quiet_on_a_still_scene(
    scene: SmallScene,
) -> None:
    gate: Gate = Mog2Gate(MotionConfig(event_start_frames=2), FULL)
    warm = scene.warm(gate, 60)
    assert not any(r.motion for r in warm[20:])
    results = scene.feed(gate, [scene.with_square(20 + 3 * i, 50, 12) for i in range(10)])
    assert all(r.motion for r in results[1:])  # from the second frame (persistence)
    assert results[2].event_started and results[2].event_id == 1
    box = results[-1].rois[0]
    x = (20 + 27) * 4
    assert box.x <= x and box.x + box.w >= x + 48


def test_mog2_baseline_honours_masks(scene: SmallScene) -> None:
    mask = ((0.0, 0.0), (640.0, 0.0), (640.0, 480.0), (0.0, 480.0))
    gate = Mog2Gate(MotionConfig(masks=(mask,)), FULL)
    scene.warm(gate, 30)
    results = scene.feed(gate, [scene.with_square(20 + 3 * i, 50, 12) for i in range(10)])
    assert not any(r.motion for r in results)
