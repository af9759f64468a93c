"""The wildcam error family.

::

    WildcamError
     ├── ConfigError      a parameter or setting is out of range or inconsistent
     │    └── NotInstalledError  the package's data (config, models) is not found
     ├── SourceError      a camera source cannot be opened or read
     ├── InputError       a message or file has malformed content (bad image, bad polygon)
     ├── BagError         a rosbag2 bag is missing, corrupt or truncated
     ├── ModelError       a model file is missing, corrupt, or disagrees with its manifest
     ├── StorageError     the on-disk queue or store cannot be written (full disk, corruption)
     ├── TransportError   an upload or download failed (network, HTTP status)
     ├── UpdateError      an over-the-air update is unsigned, badly signed or inconsistent
     ├── DeviceError      a hardware device (RTC, GPIO line, I2C sensor) is missing or misbehaves
     └── BusyError        a shared resource of the machine (every test ROS domain) is taken

I/O and third-party exceptions are converted into these where they arise
(``raise SourceError(...) from err``) so callers handle one family.

Exit codes, one convention for every ``wildcam`` verb and node process: :data:`EXIT_OK` success,
:data:`EXIT_FAILED` the run itself failed, :data:`EXIT_USAGE` bad input or configuration (each
error class says which of the last two it is: ``exit_code``). A node process that cannot start
because its configuration is wrong exits :data:`EXIT_CONFIG`: that will recur on every start, so
a supervisor stops instead of respawning it (every code in :data:`NO_RESPAWN`). A node that found
its data damaged and only set it aside exits :data:`EXIT_NEEDS_OPERATOR`: bringup does not
respawn it (a person should look first) and keeps the other nodes running.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_NEEDS_OPERATOR",
    "EXIT_OK",
    "EXIT_USAGE",
    "NO_RESPAWN",
    "BagError",
    "BusyError",
    "ConfigError",
    "DeviceError",
    "InputError",
    "ModelError",
    "NotInstalledError",
    "SourceError",
    "StorageError",
    "TransportError",
    "UpdateError",
    "WildcamError",
    "as_input_error",
]


EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NEEDS_OPERATOR = 3  # damaged data set aside: not respawned, the other nodes go on
EXIT_CONFIG = 78  # sysexits.h EX_CONFIG: a node's configuration error, deterministic
NO_RESPAWN = frozenset({EXIT_CONFIG})
"""Node exit codes a supervisor does not respawn: the same start would fail the same way."""


class WildcamError(Exception):
    """Base class of every error wildcam raises on purpose."""

    exit_code = EXIT_USAGE  # bad input or configuration, unless a subclass says otherwise


class ConfigError(WildcamError, ValueError):
    """A parameter or setting is out of range or inconsistent."""


class NotInstalledError(ConfigError, FileNotFoundError):
    """The package's data directory (``config``, ``models``) is not found: not set up or
    installed (``make setup``)."""


class SourceError(WildcamError):
    """A camera source cannot be opened or read."""


class InputError(WildcamError, ValueError):
    """A message, image or file has malformed content."""


class BagError(WildcamError):
    """A rosbag2 bag is missing, corrupt or truncated."""


class ModelError(WildcamError):
    """A model file is missing, corrupt, or disagrees with its manifest entry."""


class StorageError(WildcamError):
    """The durable queue or a store cannot be written or read (full disk, corruption)."""

    exit_code = EXIT_FAILED


class TransportError(WildcamError):
    """An upload or download failed: network error or an HTTP error status."""

    exit_code = EXIT_FAILED


class UpdateError(WildcamError):
    """An over-the-air update is unsigned, badly signed, truncated or inconsistent."""


class DeviceError(WildcamError):
    """A hardware device (RTC, GPIO line, I2C sensor) is missing, refuses or answers wrongly."""


class BusyError(WildcamError, RuntimeError):
    """A shared resource of the machine is taken by other runs (every ROS domain of the range
    that runs and tests claim); trying again later may work."""

    exit_code = EXIT_FAILED


@contextlib.contextmanager
def as_input_error() -> Iterator[None]:
    """Raise a library's ``ValueError`` (a malformed number, file or document met while reading
    what the user gave) as an :class:`InputError`; wildcam's own errors pass unchanged."""
    try:
        yield
    except WildcamError:
        raise
    except ValueError as err:
        raise InputError(str(err)) from err
