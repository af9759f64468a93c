"""The cascade node, slower than the camera: each frame it analyses takes ``DELAY_S`` more, as
the real models on a small board do (test helper, started as a script by
test_held_bursts.py)."""

from __future__ import annotations

import sys
import time
from typing import Any

from wildcam.nodes.cascade_detector import CascadeDetector
from wildcam.ros.runner import spin_nodes

DELAY_S = 0.4  # 4 camera ticks at 10 fps: the cascade's queue would overflow without pacing


class SlowCascade(CascadeDetector):
    """Sleeps before each paired frame, blocking its executor as a long inference does."""

    def _analyse(self, paired: list[Any]) -> None:
        for item in paired:
            time.sleep(DELAY_S)
            super()._analyse([item])


if __name__ == "__main__":
    raise SystemExit(spin_nodes([SlowCascade], sys.argv))
