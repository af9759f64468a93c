"""Test harness: every ROS process a test starts stays on this host, in a domain of its own.

``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` is set for the whole session before anything can
import rclpy; graph tests take the ``ros_env`` fixture, which claims a free ``ROS_DOMAIN_ID``
(process-safe, so concurrent runs never meet) and returns the environment for subprocesses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from wildcam.rosenv import claim_domain, ros_environment

os.environ.update(ros_environment())
REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path | None:
    """The shared real-data directory (``WILDCAM_DATA`` or ``../shared/data``), if present."""
    path = Path(os.environ.get("WILDCAM_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


@pytest.fixture
def ros_env() -> Iterator[dict[str, str]]:
    """Claim a ROS domain for this test; yield the environment to start ROS processes with.

    The domain is also set in ``os.environ`` so an in-process ``rclpy.init`` joins it.
    """
    with claim_domain() as domain:
        env = ros_environment(domain)
        previous = os.environ.get("ROS_DOMAIN_ID")
        os.environ["ROS_DOMAIN_ID"] = str(domain)
        try:
            yield env
        finally:
            if previous is None:
                os.environ.pop("ROS_DOMAIN_ID", None)
            else:
                os.environ["ROS_DOMAIN_ID"] = previous


@pytest.fixture
def shared_data() -> Path:
    """The real camera-trap data; skips the test with the reason when it is absent."""
    path = data_dir()
    if path is None:
        pytest.skip("real data not found: set WILDCAM_DATA or place it at ../shared/data")
    return path
