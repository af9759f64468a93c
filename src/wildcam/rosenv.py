"""The environment every wildcam ROS process runs with (no rclpy import here).

Discovery stays on this host (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``: the default multicasts
on the LAN), and large images travel through Fast DDS shared memory using the profile shipped in
``config/fastdds_shm.xml``. Bringup, the test harness and the Makefile all use this module.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from wildcam.errors import BusyError, NotInstalledError

__all__ = [
    "DOMAIN_RANGE",
    "PROFILE_VAR",
    "SHM_PROFILE",
    "SMALL_SHM_PROFILE",
    "claim_domain",
    "config_dir",
    "ros_environment",
    "share_dir",
    "small_messages_environment",
]

PROFILE_VAR = "FASTDDS_DEFAULT_PROFILES_FILE"
SHM_PROFILE = "fastdds_shm.xml"
"""Fast DDS profile with a 16 MB shared-memory segment: full frames cross processes in it."""
SMALL_SHM_PROFILE = "fastdds_shm_small.xml"
"""The same with a 2 MB segment, for processes that publish no images (about 14 MB less RSS)."""

# ROS_DOMAIN_IDs tests may claim; 0 (the default) is left to the user.
DOMAIN_RANGE = range(101, 161)


def share_dir(name: str, marker: str) -> Path:
    """The package's ``name`` data directory (``config``, ``models``) holding ``marker``.

    Looked for in the source checkout (``make``'s symlink install resolves there), then in the
    install prefix this module was copied into (``<prefix>/share/wildcam/<name>``, a plain
    ``colcon build``), then through the ament index, as nav2 finds its maps.
    """
    here = Path(__file__).resolve()
    for candidate in (
        here.parents[2] / name,  # source checkout: src/wildcam/rosenv.py
        here.parents[4] / "share" / "wildcam" / name,
    ):  # lib/pythonX/site-packages
        if (candidate / marker).is_file():
            return candidate
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )
    except ImportError as err:
        raise NotInstalledError(f"cannot find wildcam's {name} directory") from err
    try:
        return Path(get_package_share_directory("wildcam")) / name
    except PackageNotFoundError as err:
        raise NotInstalledError(f"cannot find wildcam's {name} directory: {err}") from err


def config_dir() -> Path:
    """The package's ``config`` directory: the source tree's, else the installed share dir."""
    return share_dir("config", "wildcam.yaml")


def ros_environment(
    domain_id: int | None = None, base: Mapping[str, str] | None = None, shm_profile: bool = True
) -> dict[str, str]:
    """Return ``base`` (default: ``os.environ``) with wildcam's ROS settings applied.

    ``ROS_AUTOMATIC_DISCOVERY_RANGE`` is always forced to LOCALHOST unless the caller's
    environment already names a narrower or explicit choice (``OFF`` or ``LOCALHOST``).
    """
    env = dict(os.environ if base is None else base)
    if env.get("ROS_AUTOMATIC_DISCOVERY_RANGE") not in ("LOCALHOST", "OFF"):
        env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    if shm_profile and PROFILE_VAR not in env:
        env[PROFILE_VAR] = str(config_dir() / SHM_PROFILE)
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    # A virtualenv with the PyPI ROS wheels is itself an ament prefix; no setup.bash sets this.
    if not env.get("AMENT_PREFIX_PATH") and (Path(sys.prefix) / "share" / "ament_index").is_dir():
        env["AMENT_PREFIX_PATH"] = sys.prefix
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def small_messages_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for a process that publishes no images: wildcam's small-segment profile in
    place of its default one (a profile of the user's own is kept)."""
    if Path(env.get(PROFILE_VAR, "")).resolve() != (config_dir() / SHM_PROFILE).resolve():
        return dict(env)
    return {**env, PROFILE_VAR: str(config_dir() / SMALL_SHM_PROFILE)}


@contextmanager
def claim_domain(lock_dir: Path = Path("/tmp")) -> Iterator[int]:
    """Hold an exclusive, process-safe claim on a free ROS domain id for the ``with`` block.

    Concurrent test runs on one machine each get their own domain, so their graphs never meet.
    """
    for domain in DOMAIN_RANGE:
        handle = open(lock_dir / f"wildcam-ros-domain-{domain}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield domain
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise BusyError(f"every ROS domain in {DOMAIN_RANGE} is claimed by another run")
