"""The node table, the launch file, the parameters YAML, CMake and the README agree."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import yaml

from wildcam.docs import BEGIN, END, default_parameters, node_tables
from wildcam.graph import NODES
from wildcam.params import param_specs

REPO = Path(__file__).resolve().parents[1]


def test_every_node_module_and_config_class_exists() -> None:
    import importlib

    for spec in NODES:
        module = importlib.import_module(spec.module)
        assert hasattr(module, spec.node_class) and callable(module.main)
        assert param_specs(spec.config_type()), f"{spec.name} declares no parameters"


def test_shipped_yaml_holds_exactly_the_declared_defaults() -> None:
    shipped = yaml.safe_load((REPO / "config" / "wildcam.yaml").read_text())
    assert shipped == default_parameters()


def test_readme_node_section_is_generated_from_the_table() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert section == node_tables().strip(), "run: wildcam docs --write README.md"


def test_cmake_installs_one_executable_per_table_entry() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "src" / "wildcam" / "graph.py"), "--executables"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == [f"{n.executable}:{n.module}" for n in NODES]
    lib = Path(sys.prefix) / "lib" / "wildcam"
    if lib.is_dir():  # built into this venv by `make`
        assert {p.name for p in lib.iterdir()} >= {n.executable for n in NODES}


def test_launch_file_is_driven_by_the_node_table_and_documents_its_arguments() -> None:
    tree = ast.parse((REPO / "launch" / "wildcam.launch.py").read_text())
    imported = {
        a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module == "wildcam.graph"
        for a in n.names
    }
    assert "NODES" in imported
    declared = {}
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "DeclareLaunchArgument":
            name = call.args[0].value  # type: ignore[attr-defined]
            declared[name] = {k.arg for k in call.keywords}
    assert {"params_file", "namespace", "use_sim_time"} <= set(declared)
    assert all("description" in kws for kws in declared.values())
