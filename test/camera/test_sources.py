"""The file, folder, device and fake backends: frames, stamps, errors, resolution changes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from wildcam.camera import (
    CameraSource,
    FakeSource,
    ImageFolderSource,
    V4L2Source,
    VideoFileSource,
)
from wildcam.errors import ConfigError, SourceError


def _image(value: int, w: int = 64, h: int = 48) -> np.ndarray:
    img = np.full((h, w, 3), value, np.uint8)
    img[: h // 2, : w // 2] = 255 - value  # some structure so codecs keep it honest
    return img


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three PNGs, a corrupt JPEG between them, and a file that is not an image."""
    for i, name in enumerate(("a.png", "c.png", "d.PNG")):
        assert cv2.imwrite(str(tmp_path / name), _image(40 * (i + 1)))
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg at all")
    (tmp_path / "notes.txt").write_text("ignored")
    return tmp_path


def test_folder_skips_a_corrupt_image_and_keeps_streaming(folder: Path) -> None:
    source = ImageFolderSource(folder, fps=5.0)
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    assert [f.image[-1, -1, 0] for f in frames] == [40, 80, 120]
    assert [f.stamp for f in frames] == [0.0, 0.2, 0.4]
    assert [f.index for f in frames] == [0, 1, 2]
    assert source.skipped == [folder / "b.jpg"]
    assert isinstance(source, CameraSource)


def test_folder_loops_and_records_a_bad_file_once(folder: Path) -> None:
    source = ImageFolderSource(folder, fps=10.0, loop=True)
    frames = [source.read() for _ in range(7)]
    assert all(f is not None for f in frames)
    assert frames[6] is not None and frames[6].stamp == pytest.approx(0.6)
    assert source.skipped == [folder / "b.jpg"]


def test_folder_of_only_broken_images_ends_even_when_looping(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_bytes(b"garbage")
    source = ImageFolderSource(tmp_path, fps=10.0, loop=True)
    assert source.read() is None
    assert source.skipped == [tmp_path / "x.jpg"]


def test_folder_set_resolution_changes_the_next_frame(folder: Path) -> None:
    source = ImageFolderSource(folder, fps=10.0)
    first = source.read()
    assert first is not None and first.image.shape == (48, 64, 3)
    source.set_resolution(32, 20)
    second = source.read()
    assert second is not None and second.image.shape == (20, 32, 3)


def test_missing_or_empty_folder_raises_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        ImageFolderSource(tmp_path / "nope", fps=10.0)
    (tmp_path / "readme.md").write_text("no images here")
    with pytest.raises(SourceError, match="no image files"):
        ImageFolderSource(tmp_path, fps=10.0)
    with pytest.raises(ConfigError):
        ImageFolderSource(tmp_path, fps=0.0)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    """Five 64x48 frames at 10 fps, Motion-JPEG in AVI (OpenCV can always write it)."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for i in range(5):
        writer.write(_image(40 * (i + 1)))
    writer.release()
    return path


def test_video_file_frames_and_stamps(video: Path) -> None:
    with VideoFileSource(video) as source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
        assert source.fps == pytest.approx(10.0)
    assert [f.stamp for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    levels = [int(f.image[-1, -1].mean()) for f in frames]
    assert levels == sorted(levels) and levels[-1] - levels[0] > 100
    with pytest.raises(SourceError, match="closed"):
        source.read()


def test_video_file_loops_and_resizes(video: Path) -> None:
    source = VideoFileSource(video, loop=True)
    source.set_resolution(32, 24)
    frames = [source.read() for _ in range(8)]
    assert all(f is not None and f.image.shape == (24, 32, 3) for f in frames)
    assert frames[7] is not None and frames[7].stamp == pytest.approx(0.7)
    source.close()


def test_missing_or_unreadable_video_raises_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        VideoFileSource(tmp_path / "missing.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01 definitely not a video" * 100)
    with pytest.raises(SourceError):
        VideoFileSource(garbage)


def test_missing_device_raises_source_error() -> None:
    with pytest.raises(SourceError, match="/dev/video99"):
        V4L2Source("/dev/video99", 640, 480, 10.0)
    with pytest.raises(SourceError, match="99"):
        V4L2Source(99, 640, 480, 10.0)


def test_fake_source_plays_its_script_and_fails_on_cue() -> None:
    images = [_image(10), _image(20), np.full((48, 64), 30, np.uint8)]
    source = FakeSource(images, fps=4.0, fail_at={1})
    first = source.read()
    with pytest.raises(SourceError):
        source.read()
    second, third = source.read(), source.read()
    assert first is not None and second is not None and third is not None
    assert [first.stamp, second.stamp, third.stamp] == [0.0, 0.25, 0.5]
    assert third.image.shape == (48, 64, 3)  # grey input comes out as BGR
    assert source.read() is None
    third.image[:] = 0  # a consumer scribbling on its frame must not alter the script
    assert images[2][0, 0] == 30


def test_fake_source_resolution_and_close() -> None:
    with FakeSource([_image(10)] * 3, fps=10.0) as source:
        source.set_resolution(16, 8)
        frame = source.read()
        assert frame is not None and frame.image.shape == (8, 16, 3)
        with pytest.raises(ConfigError):
            source.set_resolution(0, 8)
    with pytest.raises(SourceError):
        source.read()
