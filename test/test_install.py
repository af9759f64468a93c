"""A plain install, as ``colcon build`` makes without ``--symlink-install``: files are copied
into a fresh prefix, the models and config come along and are found through that prefix, the
cascade starts from it with its models, and ``ctest`` in that build runs the pytest suite.

``make`` installs with symlinks into the venv, where the source tree is always within reach;
this is the check that an installed copy does not depend on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from diagnostic_msgs.msg import DiagnosticArray

pytestmark = pytest.mark.graph

REPO = Path(__file__).resolve().parents[1]
# What a workspace's src/wildcam holds (no venv or build tree inside the source dir: CMake
# refuses to export include paths that lie in the source dir, and a workspace has none there).
PACKAGE_FILES = (
    "CMakeLists.txt",
    "package.xml",
    "cmake",
    "config",
    "launch",
    "models",
    "msg",
    "srv",
    "src",
    "test",
)
SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"


def _cmake(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run(["cmake", *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(build dir, install prefix) of a copying install with tests enabled."""
    root = tmp_path_factory.mktemp("install")
    source, build, prefix = root / "src" / "wildcam", root / "build", root / "prefix"
    source.mkdir(parents=True)
    for name in PACKAGE_FILES:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(REPO / name, source / name)
    env = {
        **os.environ,
        "AMENT_PREFIX_PATH": sys.prefix,
        "CMAKE_PREFIX_PATH": sys.prefix,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    _cmake(
        "-S",
        str(source),
        "-B",
        str(build),
        f"-DCMAKE_INSTALL_PREFIX={prefix}",
        f"-DPython3_EXECUTABLE={sys.executable}",
        "-DBUILD_TESTING=ON",
        "--log-level=WARNING",
        env=env,
    )
    _cmake("--build", str(build), "-j2", env=env)
    _cmake("--install", str(build), env=env)
    return build, prefix


def test_models_and_config_are_copied_into_the_share_dir(installed: tuple[Path, Path]) -> None:
    _, prefix = installed
    share = prefix / "share" / "wildcam"
    for path in (
        share / "models" / "manifest.json",
        share / "config" / "wildcam.yaml",
        share / "launch" / "wildcam.launch.py",
        prefix / "lib" / "wildcam" / "cascade_detector",
    ):
        assert path.is_file() and not path.is_symlink(), path
    code = (
        "from wildcam.cascade.manifest import default_manifest_path as m;"
        "from wildcam.rosenv import config_dir as c; print(m()); print(c())"
    )
    env = {**os.environ, "PYTHONPATH": str(prefix / SITE)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(share / "models" / "manifest.json"), str(share / "config")]


def test_ctest_runs_the_pytest_suite(installed: tuple[Path, Path]) -> None:
    build, _ = installed
    listed = subprocess.run(
        ["ctest", "-N"], cwd=build, capture_output=True, text=True, check=True
    ).stdout
    assert "wildcam_pytest" in listed


def test_cascade_starts_from_the_installed_copy_with_its_models(  # type: ignore[no-untyped-def]
    installed: tuple[Path, Path], probe, ros_env: dict[str, str], tmp_path: Path
) -> None:
    _, prefix = installed
    diags = probe.collect(DiagnosticArray, "/diagnostics")
    env = {
        **ros_env,
        "PYTHONPATH": str(prefix / SITE),
        "AMENT_PREFIX_PATH": f"{prefix}{os.pathsep}{sys.prefix}",
    }
    with open(tmp_path / "cascade.log", "wb") as log:
        proc = subprocess.Popen(
            [str(prefix / "lib" / "wildcam" / "cascade_detector")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def models() -> dict[str, str]:
            return {
                kv.key: kv.value
                for array in diags
                for s in array.status
                if s.name.endswith("cascade_detector")
                for kv in s.values
                if kv.key.endswith("_model")
            }

        assert probe.spin_until(lambda: len(models()) == 3, 60.0), (
            tmp_path / "cascade.log"
        ).read_text(errors="replace")
        assert "(disabled)" not in models().values()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
