"""Report-test fixtures: the known run of :mod:`report_helpers`, written once per session."""

from __future__ import annotations

import pytest
from report_helpers import SCENE, KnownRun, write_known_run  # type: ignore[import-not-found]

from wildcam.camera.scene import SceneConfig


@pytest.fixture(scope="session")
def known_run(tmp_path_factory: pytest.TempPathFactory) -> KnownRun:
    """The known run, written once per session."""
    return write_known_run(tmp_path_factory.mktemp("report"))


@pytest.fixture
def scene() -> SceneConfig:
    """The scene of the known run."""
    return SCENE
