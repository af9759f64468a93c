"""Image message conversion and validation of malformed images (no node needed)."""

from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import Image

from wildcam.errors import InputError
from wildcam.ros.convert import image_to_msg, msg_to_image, seconds_to_time, time_to_seconds


def test_round_trip_bgr_and_mono() -> None:
    rng = np.random.default_rng(1)
    for shape in ((5, 7, 3), (5, 7)):
        image = rng.integers(0, 255, shape, dtype=np.uint8)
        msg = image_to_msg(image, seconds_to_time(12.5), "cam")
        assert msg.header.frame_id == "cam" and time_to_seconds(msg.header.stamp) == 12.5
        assert np.array_equal(msg_to_image(msg), image)


def test_rgb8_comes_back_as_bgr_and_padded_rows_are_cropped() -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded = np.zeros((2, 12), np.uint8)
    padded[:, :9] = rgb.reshape(2, 9)
    msg = Image(height=2, width=3, encoding="rgb8", step=12, data=padded.tobytes())
    assert np.array_equal(msg_to_image(msg), rgb[:, :, ::-1])


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"encoding": "yuv422"}, "unsupported image encoding"),
        ({"height": 0}, "outside 1..8192"),
        ({"width": 100000}, "outside 1..8192"),
        ({"step": 2}, "step 2 shorter than a row"),
        ({"data": bytes(11)}, "data holds 11 bytes"),
    ],
)
def test_malformed_images_raise_input_error(fields: dict, needle: str) -> None:
    base = {"height": 3, "width": 4, "encoding": "mono8", "step": 4, "data": bytes(12)}
    with pytest.raises(InputError, match=needle):
        msg_to_image(Image(**{**base, **fields}))
