"""A node started on its own (``ros2 run``) keeps the deployment's middleware settings: it sets
what the installation needs (the RMW) and leaves discovery and the DDS profile alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CODE = """
import json, os
from wildcam.ros import runner
runner._apply_environment()
print(json.dumps({k: os.environ.get(k) for k in (
    "ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_DEFAULT_PROFILES_FILE", "RMW_IMPLEMENTATION")}))
"""


def _env_after_start(**given: str) -> dict[str, str | None]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "ROS_AUTOMATIC_DISCOVERY_RANGE",
            "FASTDDS_DEFAULT_PROFILES_FILE",
            "RMW_IMPLEMENTATION",
        )
    }
    out = subprocess.run(
        [sys.executable, "-c", CODE],
        env={**keep, **given},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, str | None] = json.loads(out)
    return result


def test_node_process_sets_no_profile_and_no_discovery_range() -> None:
    env = _env_after_start()
    assert env["FASTDDS_DEFAULT_PROFILES_FILE"] is None
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] is None
    assert env["RMW_IMPLEMENTATION"] == "rmw_fastrtps_cpp"


def test_node_process_keeps_what_the_deployment_set() -> None:
    given = {
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "OFF",
        "FASTDDS_DEFAULT_PROFILES_FILE": "/etc/my_profile.xml",
    }
    assert _env_after_start(**given) == {**given, "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp"}
