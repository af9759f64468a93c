"""The always-on baseline's cost, measured here: the large model on whole frames, no gate.

The baseline camera runs the stage-3 model on every frame it captures. Its cost per frame is
measured on this host the way the nodes measure theirs (thread CPU time of the call, turned
into joules by the device power profile), on a few frames of the run's own scene, so the
comparison is made in the same run on the same machine. ONNX Runtime only; no rclpy.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

from wildcam.errors import ModelError
from wildcam.types import Box, Image

__all__ = ["measure_stage3_joules"]


def measure_stage3_joules(
    frames: Sequence[Image],
    profile_name: str = "rpi4b",
    manifest: str = "",
    model_id: str = "default",
    warmup: int = 1,
) -> tuple[float, str]:
    """Joules per stage-3 call on a whole frame and the model id measured.

    ``manifest`` and ``model_id`` as the cascade's parameters (``""``: the package's manifest;
    ``default``: its stage-3 default). The median thread CPU time over ``frames`` (after
    ``warmup`` calls) is converted with the profile's active-core power and slowdown. Raises
    ModelError when there is no such stage-3 model.
    """
    from wildcam.cascade.manifest import Manifest, default_manifest_path
    from wildcam.cascade.onnx_models import RuntimeOptions, load_model
    from wildcam.power.profile import load_profile

    if not frames:
        raise ModelError("no frames to measure the stage-3 model on")
    path = manifest or default_manifest_path()
    loaded = Manifest.load(path)
    entry = loaded.default_for(3) if model_id in ("", "default") else loaded.entry(model_id)
    model = load_model(entry, loaded.directory, RuntimeOptions(threads=1))
    profile = load_profile(profile_name)
    times = []
    for i, image in enumerate([*frames[:warmup], *frames]):
        h, w = image.shape[:2]
        start = time.thread_time()
        model.predict(image, [Box(0, 0, w, h)])
        if i >= warmup:
            times.append(time.thread_time() - start)
    return profile.cpu_joules(statistics.median(times)), entry.model_id
