"""A package's re-exports imported on first use (PEP 562), so its ``__init__`` costs nothing.

A node process that needs one submodule (``wildcam.camera.base``, ``wildcam.upload.queue``)
first runs its package's ``__init__``; with eager re-exports that would load every sibling
(the synthetic renderer, the HTTP client, the signature library) into every node.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` re-exporting ``exports``.

    ``exports`` maps a submodule name to the names taken from it; each is imported when the
    name is first asked for, then kept in the package's namespace.
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
