"""The wildcam error family.

::

    WildcamError
     ├── ConfigError      a parameter or setting is out of range or inconsistent
     ├── SourceError      a camera source cannot be opened or read
     ├── InputError       a message or file has malformed content (bad image, bad polygon)
     ├── BagError         a rosbag2 bag is missing, corrupt or truncated
     ├── ModelError       a model file is missing, corrupt, or disagrees with its manifest
     ├── StorageError     the on-disk queue or store cannot be written (full disk, corruption)
     ├── TransportError   an upload or download failed (network, HTTP status)
     ├── UpdateError      an over-the-air update is unsigned, badly signed or inconsistent
     └── DeviceError      a hardware device (RTC, GPIO line, I2C sensor) is missing or misbehaves

I/O and third-party exceptions are converted into these where they arise
(``raise SourceError(...) from err``) so callers handle one family.

A node that cannot start exits with its error's ``exit_code``: 2 in general (bringup respawns
it), :data:`EXIT_NEEDS_OPERATOR` when data was damaged and only set aside (bringup does not
respawn it: a person should look first).
"""

from __future__ import annotations

__all__ = ["EXIT_NEEDS_OPERATOR", "BagError", "ConfigError", "DeviceError", "InputError",
           "ModelError", "SourceError", "StorageError", "TransportError", "UpdateError",
           "WildcamError"]


EXIT_NEEDS_OPERATOR = 3


class WildcamError(Exception):
    """Base class of every error wildcam raises on purpose."""

    exit_code = 2


class ConfigError(WildcamError, ValueError):
    """A parameter or setting is out of range or inconsistent."""


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


class TransportError(WildcamError):
    """An upload or download failed: network error or an HTTP error status."""


class UpdateError(WildcamError):
    """An over-the-air update is unsigned, badly signed, truncated or inconsistent."""


class DeviceError(WildcamError):
    """A hardware device (RTC, GPIO line, I2C sensor) is missing, refuses or answers wrongly."""
