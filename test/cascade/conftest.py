"""Cascade-test fixtures: the graph tests' process starter ``procs`` (test/graph/conftest.py)
for the node tests here, without a copy of it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "wildcam_test_graph_fixtures", Path(__file__).parents[1] / "graph" / "conftest.py")
assert _spec is not None and _spec.loader is not None
_graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_graph)

procs = _graph.procs
