"""What keeps the graph small enough for a 512 MB board: no node process, and not the bringup
supervisor, imports what it does not use (checked in a fresh interpreter each, no timing);
nodes that publish no images get the small shared-memory segment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wildcam.graph import NODES, node
from wildcam.rosenv import (
    PROFILE_VAR,
    SHM_PROFILE,
    SMALL_SHM_PROFILE,
    config_dir,
    ros_environment,
    small_messages_environment,
)

NEVER_IN_A_NODE = {
    "matplotlib",
    "aiohttp",
    "torch",
    "onnx",
    "rosbags",
    "pvlib",
    "wildcam.report",
    "wildcam.gateway",
    "wildcam.bags",
    "wildcam.training",
    "wildcam.run",
    "wildcam.camera.synthetic",
    "wildcam.camera.video",
    "wildcam.camera.device",
    "wildcam.cascade.evaluate",
}
ONLY_WHERE_USED = {
    "onnxruntime": {"cascade_detector"},
    "cv2": {"camera_driver", "motion_detector", "cascade_detector"},
    "httpx": {"uploader"},
    "sqlite3": {"uploader", "mqtt_bridge"},
    "paho": {"mqtt_bridge"},
}
"""Module -> the nodes that may import it; signatures (cryptography) only when OTA is on."""
# The supervisor reads the parameters file (yaml) to check the configuration before it starts.
SUPERVISOR_NEVER = {
    "rclpy",
    "numpy",
    "cv2",
    "onnxruntime",
    "httpx",
    "cryptography",
    *NEVER_IN_A_NODE,
}


def _imported(code: str) -> set[str]:
    """The top-level packages and wildcam modules in ``sys.modules`` after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env=ros_environment(),
        timeout=120,
    ).stdout
    names = json.loads(out.strip().splitlines()[-1])
    return {n for n in names if n.startswith("wildcam.")} | {n.split(".")[0] for n in names}


@pytest.mark.parametrize("spec", NODES, ids=[n.name for n in NODES])
def test_a_node_module_imports_only_what_its_node_uses(spec) -> None:  # type: ignore[no-untyped-def]
    modules = _imported(f"import {spec.module}")
    assert "rclpy" in modules and spec.module in modules  # the probe saw the import
    assert not modules & NEVER_IN_A_NODE
    for module, users in ONLY_WHERE_USED.items():
        assert module not in modules or spec.name in users, f"{spec.name} imports {module}"
    assert "cryptography" not in modules


def test_the_bringup_supervisor_imports_next_to_nothing() -> None:
    modules = _imported(
        "from wildcam.cli import build_parser, checked_apart\n"
        "build_parser('bringup')\nfrom wildcam.bringup import default_params_file,"
        " select\nchecked_apart([default_params_file()], select(None))"
    )
    assert "wildcam.bringup" in modules and not modules & SUPERVISOR_NEVER
    every = _imported("from wildcam.cli import build_parser\nbuild_parser()")
    assert {"wildcam.cascade.cli", "wildcam.gateway.cli"} <= every  # help still lists them


def test_nodes_without_images_get_the_small_shared_memory_segment() -> None:
    env = ros_environment(base={})
    assert env[PROFILE_VAR] == str(config_dir() / SHM_PROFILE)
    assert small_messages_environment(env)[PROFILE_VAR] == str(config_dir() / SMALL_SHM_PROFILE)
    own = {**env, PROFILE_VAR: "/etc/my_profile.xml"}
    assert small_messages_environment(own) == own  # a profile of the user's own is kept
    assert node("camera_driver").publishes_images
    assert not any(
        node(n).publishes_images
        for n in ("motion_detector", "cascade_detector", "uploader", "power_manager")
    )


def test_the_small_profile_differs_only_in_its_segment_size() -> None:
    def body(name: str) -> str:
        text = (Path(config_dir()) / name).read_text()
        return text[text.index("-->") :]

    small, large = body(SMALL_SHM_PROFILE), body(SHM_PROFILE)
    assert "<segment_size>2097152</segment_size>" in small
    assert small.replace("2097152", "16777216") == large
