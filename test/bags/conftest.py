"""Bag-test fixtures: small synthetic bags (generated once per session) and a test-side node.

Bag tools run through the ``procs`` fixture (test/conftest.py): the ``ros_env`` environment
(loopback discovery, a domain of the test's own), SIGINT at teardown, a kill only for a
process that does not stop in time.
"""

from __future__ import annotations

from typing import Any

import pytest
from bag_helpers import BagTool, small_scene  # type: ignore[import-not-found]

from wildcam.bags.generate import GenerateResult, generate
from wildcam.camera.synthetic import SceneConfig


@pytest.fixture(scope="session")
def scene() -> SceneConfig:
    """The scene every shared bag is generated from (5 s, 320x240, 10 fps)."""
    return small_scene()


@pytest.fixture(scope="session", params=["sqlite3", "mcap"])
def generated(
    request: pytest.FixtureRequest, scene: SceneConfig, tmp_path_factory: pytest.TempPathFactory
) -> GenerateResult:
    """The scene as a bag in each storage; the mcap one also holds full frames."""
    storage = str(request.param)
    out = tmp_path_factory.mktemp(f"gen_{storage}") / "bag"
    return generate(out, scene, storage=storage, full_frames=storage == "mcap")


@pytest.fixture
def bagtool(procs: Any) -> BagTool:
    """Starter for bag subprocesses (stopped by ``procs`` afterwards)."""
    return BagTool(procs)
