"""Graph tests start real ROS 2 nodes (fixtures ``procs`` and ``probe``: test/conftest.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.graph
