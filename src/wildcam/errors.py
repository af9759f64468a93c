"""The wildcam error family.

::

    WildcamError
     ├── ConfigError      a parameter or setting is out of range or inconsistent
     ├── SourceError      a camera source cannot be opened or read
     ├── InputError       a message or file has malformed content (bad image, bad polygon)
     └── BagError         a rosbag2 bag is missing, corrupt or truncated

I/O and third-party exceptions are converted into these where they arise
(``raise SourceError(...) from err``) so callers handle one family.
"""

from __future__ import annotations

__all__ = ["BagError", "ConfigError", "InputError", "SourceError", "WildcamError"]


class WildcamError(Exception):
    """Base class of every error wildcam raises on purpose."""


class ConfigError(WildcamError, ValueError):
    """A parameter or setting is out of range or inconsistent."""


class SourceError(WildcamError):
    """A camera source cannot be opened or read."""


class InputError(WildcamError, ValueError):
    """A message, image or file has malformed content."""


class BagError(WildcamError):
    """A rosbag2 bag is missing, corrupt or truncated."""
