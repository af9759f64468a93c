"""MotionGate on hand-made small frames: detection, nuisances, masks, events, reconfigure."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from motion_frames import FULL, SmallScene  # test-local helpers

from wildcam.errors import InputError
from wildcam.motion import MotionConfig, MotionGate, chroma, reduce_frame
from wildcam.types import Box

MakeGate = Callable[..., MotionGate]
SCALE = FULL[0] // 160


def covers(box: Box, x: int, y: int, w: int, h: int) -> bool:
    """Whether ``box`` contains the full-frame rectangle ``(x, y, w, h)``."""
    return box.x <= x and box.y <= y and box.x + box.w >= x + w and box.y + box.h >= y + h


def test_first_frame_only_initialises(scene: SmallScene, gate: MotionGate) -> None:
    first = gate.update(scene.frame(), 0.0)
    assert first.recalibrating and not first.motion
    assert not gate.update(scene.frame(), 0.1).recalibrating


def test_static_noisy_sequence_has_no_motion(scene: SmallScene, gate: MotionGate) -> None:
    results = scene.warm(gate, 200)
    assert not any(r.motion for r in results)
    assert all(r.event_id is None for r in results)
    assert max(r.changed_fraction for r in results[1:]) < 0.002


def test_moving_square_is_detected_with_a_covering_full_frame_roi(
    scene: SmallScene, gate: MotionGate
) -> None:
    scene.warm(gate)
    hits = 0
    for i in range(26):
        x, y, size = 20 + 4 * i, 50, 12
        result = gate.update(scene.with_square(x, y, size), scene.clock)
        scene.clock += 0.1
        if i == 0:  # a change must persist for two frames (rain filter): one frame latency
            assert not result.motion and result.changed_fraction > 0.005
            continue
        assert result.motion, i
        assert not result.illumination_change
        full = (x * SCALE, y * SCALE, size * SCALE, size * SCALE)
        box = result.rois[0]
        assert covers(box, *full), (box, full)
        # Tight enough to be useful: padding only, not half the frame.
        assert box.area <= 3 * full[2] * full[3]
        hits += 1
    assert hits == 25
    assert len(result.rois) == 1


def test_slow_illumination_drift_is_not_motion(scene: SmallScene, gate: MotionGate) -> None:
    scene.warm(gate)
    # +40 % brightness over 200 frames (20 s at 10 fps), then back down.
    gains = list(np.linspace(1.0, 1.4, 200)) + list(np.linspace(1.4, 0.9, 200))
    results = scene.feed(gate, (scene.frame(gain=g) for g in gains))
    assert not any(r.motion for r in results)
    assert not any(r.illumination_change for r in results)


def test_brightness_jump_flags_illumination_change_and_opens_no_event(
    scene: SmallScene, gate: MotionGate
) -> None:
    scene.warm(gate)
    results = scene.feed(gate, [scene.frame(gain=1.2) for _ in range(40)])
    assert results[0].illumination_change
    assert not results[0].ir_switch  # +22 grey levels: below ir_mean_jump
    assert results[0].recalibrating
    assert sum(r.illumination_change for r in results) == 1
    assert not any(r.motion or r.event_started or r.event_id for r in results)
    assert not results[-1].recalibrating


def test_large_animal_is_motion_not_an_illumination_change(
    scene: SmallScene, gate: MotionGate
) -> None:
    scene.warm(gate)
    results = scene.feed(gate, [scene.with_square(30 + 2 * i, 30, 64) for i in range(5)])
    assert all(r.motion for r in results[1:])
    assert not any(r.illumination_change for r in results)
    assert results[0].changed_fraction > 0.15


def colour_frame(rng: np.random.Generator, grey: bool, bright: float) -> npt.NDArray[np.uint8]:
    """A 640x480 BGR frame: a green-brown day scene, or its grey IR counterpart."""
    base = cv2.resize(np.linspace(60, 160, 64, dtype=np.float32)[None, :], (640, 480))
    if grey:
        img = np.repeat((base * bright)[..., None], 3, axis=2)
    else:
        img = np.stack([base * 0.6, base, base * 0.8], axis=2) * bright
    img = img + rng.normal(0, 2.0, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_colour_to_grey_ir_switch_is_flagged_and_opens_no_event() -> None:
    rng = np.random.default_rng(3)
    gate = MotionGate(MotionConfig(), FULL)
    results = []
    for i in range(60):
        bgr = colour_frame(rng, grey=i >= 30, bright=1.0 if i < 30 else 1.25)
        results.append(gate.update(reduce_frame(bgr, 4), i / 10, chroma=chroma(bgr)))
    switches = [i for i, r in enumerate(results) if r.ir_switch]
    assert switches == [30]
    assert results[30].illumination_change
    assert not any(r.motion or r.event_id is not None for r in results)


def test_big_mean_jump_without_colour_information_is_an_ir_switch(
    scene: SmallScene, gate: MotionGate
) -> None:
    scene.warm(gate)
    results = scene.feed(gate, [scene.frame(gain=0.5, offset=110) for _ in range(20)])
    assert results[0].ir_switch and results[0].illumination_change
    assert not any(r.motion or r.event_id is not None for r in results)


def test_exposure_jump_between_colour_frames_is_not_an_ir_switch() -> None:
    rng = np.random.default_rng(4)
    gate = MotionGate(MotionConfig(), FULL)
    results = []
    for i in range(30):
        bgr = colour_frame(rng, grey=False, bright=0.6 if i < 15 else 1.2)  # mean +~60
        results.append(gate.update(reduce_frame(bgr, 4), i / 10, chroma=chroma(bgr)))
    assert results[15].illumination_change
    assert not any(r.ir_switch for r in results)
    assert not any(r.motion for r in results)


def leaves(scene: SmallScene) -> Callable[[int], Callable[[npt.NDArray[np.float32]], None]]:
    """Painter factory: a high-contrast leafy patch at (100..140, 10..50) swaying by +-3 px."""
    texture = scene.rng.integers(0, 2, (40, 60)).astype(np.float32)
    texture = cv2.resize(texture, (120, 80), interpolation=cv2.INTER_NEAREST) * 120 + 60
    texture = cv2.GaussianBlur(texture, (0, 0), 1.0)

    def painter(shift: int) -> Callable[[npt.NDArray[np.float32]], None]:
        def paint(img: npt.NDArray[np.float32]) -> None:
            img[10:50, 100:140] = texture[20:60, 40 + shift : 80 + shift]

        return paint

    return painter


def test_swaying_vegetation_is_suppressed_but_a_new_animal_is_still_seen(
    scene: SmallScene, make_gate: MakeGate
) -> None:
    painter = leaves(scene)
    shifts = scene.rng.integers(-3, 4, 420)
    frames = [scene.frame(paint=painter(int(s))) for s in shifts[:400]]
    gate = make_gate()
    plain = make_gate(vegetation_suppression=False, texture_tolerance=0.0)
    results = scene.feed(gate, frames)
    plain_results = scene.feed(plain, frames)
    assert sum(r.motion for r in plain_results[-100:]) >= 20  # it does look like motion
    assert not any(r.motion for r in results[-100:])  # ... but the gate has learnt it
    # An animal walking in the lower left while the leaves keep moving.
    detected = 0
    for i, s in enumerate(shifts[400:]):
        paint = painter(int(s))

        def with_animal(
            img: npt.NDArray[np.float32],
            i: int = i,
            paint: Callable[[npt.NDArray[np.float32]], None] = paint,
        ) -> None:
            paint(img)
            img[80:95, 10 + 3 * i : 25 + 3 * i] = 220.0

        result = gate.update(scene.frame(paint=with_animal), scene.clock)
        scene.clock += 0.1
        if result.motion:
            detected += 1
            assert result.rois[0].y >= 60 * SCALE  # the animal, not the leaves (y < 50)
    assert detected >= 19  # all but the first frame (persistence latency)


def test_texture_tolerance_absorbs_most_of_a_one_pixel_shift(make_gate: MakeGate) -> None:
    rng = np.random.default_rng(5)
    cells = rng.integers(60, 160, (30, 40)).astype(np.uint8)
    texture = cv2.GaussianBlur(
        cv2.resize(cells, (160, 120), interpolation=cv2.INTER_NEAREST).astype(np.float32),
        (0, 0),
        1.0,
    )

    def frame(shift: int) -> npt.NDArray[np.uint8]:
        noisy = np.roll(texture, shift, axis=0) + rng.normal(0, 2.0, texture.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)

    still = [frame(0) for _ in range(40)]
    tolerant = make_gate(vegetation_suppression=False)
    strict = make_gate(vegetation_suppression=False, texture_tolerance=0.0)
    for i, f in enumerate(still):
        tolerant.update(f, i / 10)
        strict.update(f, i / 10)
    bumped = frame(1)  # the camera (or a leafy backdrop) moved by one small pixel
    loose = tolerant.update(bumped, 4.0).changed_fraction
    tight = strict.update(bumped, 4.0).changed_fraction
    assert tight > 0.03
    assert loose < tight / 4


def test_salt_and_pepper_rain_is_not_motion(scene: SmallScene, gate: MotionGate) -> None:
    scene.warm(gate)

    def rain(img: npt.NDArray[np.float32]) -> None:
        drops = scene.rng.random(img.shape) < 0.02
        img[drops] = np.where(scene.rng.random(int(drops.sum())) < 0.5, 255.0, 0.0)

    results = scene.feed(gate, (scene.frame(paint=rain) for _ in range(100)))
    assert min(r.changed_fraction for r in results) > 0.01  # the drops did reach the gate
    assert not any(r.motion for r in results)


def test_polygon_mask_hides_motion_inside_it(scene: SmallScene, make_gate: MakeGate) -> None:
    # The square moves inside full-frame x 0..400, y 160..320; the mask covers that area.
    mask = ((0.0, 150.0), (420.0, 150.0), (420.0, 330.0), (0.0, 330.0))
    masked, plain = make_gate(masks=(mask,)), make_gate()
    frames = [scene.frame() for _ in range(30)]
    frames += [scene.with_square(5 + 3 * i, 45, 12) for i in range(25)]
    masked_results = scene.feed(masked, frames)
    plain_results = scene.feed(plain, frames)
    assert sum(r.motion for r in plain_results) >= 24  # the same frames are motion unmasked
    assert not any(r.motion for r in masked_results)
    # ... and motion outside the mask is still seen.
    outside = scene.feed(masked, [scene.with_square(130, 100 + i, 12) for i in range(5)])
    assert all(r.motion for r in outside[1:])


def test_event_segmentation_start_and_end(scene: SmallScene, make_gate: MakeGate) -> None:
    gate = make_gate(event_start_frames=3, event_end_frames=5)
    scene.warm(gate)
    visit = [scene.with_square(20 + 3 * i, 40) for i in range(10)]
    gap = [scene.frame() for _ in range(8)]
    results = scene.feed(gate, visit + gap + visit[:2] + gap + visit + gap)
    started = [i for i, r in enumerate(results) if r.event_started]
    ended = [i for i, r in enumerate(results) if r.event_ended]
    # A change is motion from its second frame on (persistence), and an event opens on the
    # third motion frame; the 2-frame blip (18, 19) is one motion frame and opens nothing.
    assert started == [3, 31]
    assert ended == [14, 42]  # fifth still frame after the last motion
    assert results[14].event_id == 1 and results[15].event_id is None
    assert results[31].event_id == 2


def test_reconfigure_keeps_the_background_and_applies_new_values(
    scene: SmallScene, gate: MotionGate
) -> None:
    scene.warm(gate)
    gate.reconfigure(
        dataclasses.replace(
            gate.config, event_start_frames=1, event_end_frames=2, pixel_threshold=25
        )
    )
    still = gate.update(scene.frame(), scene.clock)
    assert not still.recalibrating and not still.motion
    results = scene.feed(
        gate, [scene.with_square(40, 40), scene.with_square(41, 40), scene.frame(), scene.frame()]
    )
    assert results[1].motion and results[1].event_started
    assert results[3].event_ended
    # A dim square (difference 20) is motion at threshold 18 but not at 25.
    dim = scene.with_square(60, 60, value=float(scene.background[60:72, 60:72].max() + 40))
    assert [r.motion for r in scene.feed(gate, [dim, dim])] == [False, True]
    gate.reconfigure(dataclasses.replace(gate.config, pixel_threshold=254))
    bright = scene.with_square(90, 60)
    assert not any(r.motion for r in scene.feed(gate, [bright, bright, bright]))


def test_reconfigure_with_a_new_downscale_accepts_the_new_frame_size(
    scene: SmallScene, gate: MotionGate
) -> None:
    scene.warm(gate)
    gate.reconfigure(dataclasses.replace(gate.config, downscale=8))
    half = scene.frame()[::2, ::2].copy()
    first = gate.update(half, scene.clock)
    assert first.recalibrating  # new size: model restarted
    assert not gate.update(scene.frame()[::2, ::2].copy(), scene.clock).motion
    moved = scene.with_square(60, 60, 16)[::2, ::2].copy()
    gate.update(moved, scene.clock)
    result = gate.update(moved, scene.clock)
    assert result.motion
    assert covers(result.rois[0], 60 * SCALE, 60 * SCALE, 16 * SCALE, 16 * SCALE)


def test_bad_frames_are_rejected(gate: MotionGate) -> None:
    with pytest.raises(InputError):
        gate.update(np.zeros((120, 160, 3), np.uint8), 0.0)
    with pytest.raises(InputError):
        gate.update(np.zeros((120, 160), np.float32), 0.0)  # type: ignore[arg-type]


def test_a_trigger_opens_a_whole_frame_event_on_a_still_animal(
    scene: SmallScene, make_gate: MakeGate
) -> None:
    # an animal already in view when the camera opens, standing still: the background is
    # learnt with it, so the gate alone never sees it; the trigger that woke the camera does
    frames = [scene.with_square(60, 50, 16) for _ in range(20)]
    silent = make_gate(trigger_frames=3)
    assert all(r.event_id is None for r in scene.feed(silent, frames))
    scene.clock = 0.0
    gate = make_gate(trigger_frames=3)
    gate.trigger(0.05)  # between the first frame (0.0) and the second (0.1)
    results = scene.feed(gate, frames)
    assert results[0].event_id is None  # taken before the trigger
    assert results[1].event_started and results[1].event_id == 1
    assert all(r.rois == () and not r.motion for r in results)  # the cascade sees the frame
    ended = [i for i, r in enumerate(results) if r.event_ended]
    end_frames = MotionConfig().event_end_frames
    assert ended == [1 + 3 - 1 + end_frames]  # held 3 frames, then the quiet gap closes it
    assert all(r.event_id is None for r in results[ended[0] + 1 :])


def test_a_trigger_does_nothing_while_trigger_frames_is_0(
    scene: SmallScene, make_gate: MakeGate
) -> None:
    gate = make_gate(trigger_frames=0)
    gate.trigger(0.0)
    assert all(r.event_id is None for r in scene.feed(gate, [scene.frame()] * 5))
