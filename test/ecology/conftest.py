"""Ecology test fixtures: the Camtrap DP specification (../shared/specs or WILDCAM_SPECS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wildcam.ecology.camtrap import specs_dir


@pytest.fixture
def camtrap_specs() -> Path:
    """The Camtrap DP 1.0.2 specification; skips with the reason when it is absent."""
    path = specs_dir()
    if path is None:
        pytest.skip("Camtrap DP 1.0.2 specs not found: set WILDCAM_SPECS or place them at "
                    "../shared/specs/camtrap-dp-1.0.2")
    return path
