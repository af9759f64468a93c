"""The rosbags typestore wildcam's bags are written and read with.

It is the ROS 2 Kilted store (the distribution of the rclpy wheels we run on) extended with
wildcam's own messages, parsed from the package's ``.msg`` files, so every bag carries our types
together with their full definitions and RIHS01 hashes: ``ros2 bag``, Foxglove or anyone with
rosbags can decode them without our code. Types that neither store knows are looked up as
``share/<package>/msg/<Name>.msg`` in the installed prefixes (``AMENT_PREFIX_PATH``, the venv).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from rosbags.typesys import Stores, TypesysError, get_types_from_msg, get_typestore

from wildcam.errors import BagError

if TYPE_CHECKING:
    from rosbags.interfaces.typing import Typesdict
    from rosbags.typesys.store import Typestore

__all__ = ["PACKAGE", "STORE", "ensure_type", "msg_dir", "typestore", "wildcam_types"]

PACKAGE = "wildcam"
STORE = Stores.ROS2_KILTED

_TYPE_NAME = re.compile(r"^[A-Za-z_][\w]*/msg/[A-Za-z_]\w*$")
_lock = threading.Lock()


def _msg_dir_candidates() -> Iterator[Path]:
    """Where wildcam's ``.msg`` files may be, most authoritative (installed) first."""
    try:
        import wildcam.msg as generated
    except ImportError:
        pass
    else:
        if generated.__file__:
            # <prefix>/lib/pythonX.Y/site-packages/wildcam/msg/__init__.py
            yield Path(generated.__file__).parents[4] / "share" / PACKAGE / "msg"
    here = Path(__file__)
    yield here.parents[5] / "share" / PACKAGE / "msg"  # symlinked into site-packages
    yield here.resolve().parents[3] / "msg"  # source checkout: src/wildcam/bags/typestore.py
    yield Path(sys.prefix) / "share" / PACKAGE / "msg"
    for prefix in _ament_prefixes():
        yield prefix / "share" / PACKAGE / "msg"


def _ament_prefixes() -> list[Path]:
    """Install prefixes to search for message definitions: ``AMENT_PREFIX_PATH``, then the venv."""
    prefixes = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes.append(Path(sys.prefix))
    return prefixes


def msg_dir() -> Path:
    """Return the directory holding wildcam's ``.msg`` files (installed share dir, else source).

    Raises :class:`BagError` when none is found.
    """
    tried = []
    for candidate in _msg_dir_candidates():
        if candidate.is_dir() and any(candidate.glob("*.msg")):
            return candidate
        tried.append(str(candidate))
    raise BagError(f"cannot find wildcam's message definitions; looked in {', '.join(tried)}")


def wildcam_types(directory: Path | None = None) -> Typesdict:
    """Parse each ``.msg`` file in ``directory`` (default :func:`msg_dir`) as ``wildcam/msg/*``."""
    directory = msg_dir() if directory is None else directory
    types: Typesdict = {}
    for path in sorted(directory.glob("*.msg")):
        try:
            types.update(
                get_types_from_msg(path.read_text(encoding="utf-8"), f"{PACKAGE}/msg/{path.stem}")
            )
        except (OSError, TypesysError) as err:
            raise BagError(f"cannot parse message definition {path}: {err}") from err
    if not types:
        raise BagError(f"no .msg files in {directory}")
    return types


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """Return the shared typestore: ROS 2 Kilted plus wildcam's messages.

    Types loaded later by :func:`ensure_type` are added to this same store.
    """
    store = get_typestore(STORE)
    try:
        store.register(wildcam_types())
    except TypesysError as err:
        raise BagError(
            f"wildcam message definitions conflict with the {STORE.value} store: {err}"
        ) from err
    return store


def ensure_type(msgtype: str, store: Typestore | None = None) -> Typestore:
    """Make sure ``msgtype`` (``pkg/msg/Name``) is known to ``store`` (default :func:`typestore`).

    Unknown types, and the types they use, are loaded from the installed ``.msg`` files.
    Raises :class:`BagError` when the type cannot be found.
    """
    store = typestore() if store is None else store
    with _lock:
        if msgtype in store.fielddefs:
            return store
        found: Typesdict = {}
        _load_installed(msgtype, store, found)
        try:
            store.register(found)
        except TypesysError as err:
            raise BagError(f"cannot register message type {msgtype}: {err}") from err
    return store


def _load_installed(msgtype: str, store: Typestore, found: Typesdict) -> None:
    """Parse ``msgtype`` and its unknown dependencies into ``found`` from installed prefixes."""
    if msgtype in store.fielddefs or msgtype in found:
        return
    if not _TYPE_NAME.match(msgtype):
        raise BagError(f"unknown message type {msgtype!r} (expected package/msg/Name)")
    package, _, name = msgtype.split("/")
    for prefix in _ament_prefixes():
        path = prefix / "share" / package / "msg" / f"{name}.msg"
        if path.is_file():
            break
    else:
        raise BagError(
            f"unknown message type {msgtype}: not in the {STORE.value} typestore and "
            f"no {package}/msg/{name}.msg under {[str(p) for p in _ament_prefixes()]}"
        )
    try:
        parsed = get_types_from_msg(path.read_text(encoding="utf-8"), msgtype)
    except (OSError, TypesysError) as err:
        raise BagError(f"cannot parse message definition {path}: {err}") from err
    found.update(parsed)
    for dependency in _referenced_types(parsed[msgtype]):
        _load_installed(dependency, store, found)


def _referenced_types(tree: object) -> Iterable[str]:
    """Every ``pkg/msg/Name`` string inside a parsed field-definition tree."""
    if isinstance(tree, str):
        if _TYPE_NAME.match(tree):
            yield tree
    elif isinstance(tree, (tuple, list)):
        for item in tree:
            yield from _referenced_types(item)
