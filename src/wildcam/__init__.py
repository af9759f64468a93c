"""wildcam: a ROS 2 node suite that turns a battery-powered camera into a wildlife monitor.

The generated message modules (``wildcam.msg``) are installed by rosidl beside this source
tree; ``extend_path`` lets both halves of the package live in different directories.
"""

from __future__ import annotations

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
__version__ = "0.1.0"
