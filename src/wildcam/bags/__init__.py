"""rosbag2 tools: record, play, inspect and generate bags with wildcam's own message types.

There is no rosbag2_py or ``ros2 bag`` on a pip-installed ROS 2, so bags are written and read
with the ``rosbags`` library, and recorded/played through plain rclpy nodes that move the
serialized CDR bytes untouched. Bags carry wildcam's message definitions
(:mod:`wildcam.bags.typestore`), so ``ros2 bag`` and Foxglove elsewhere open them too.

Every problem with a bag (missing, no metadata, truncated or corrupt storage, unknown type)
raises :class:`wildcam.errors.BagError`.
"""

from __future__ import annotations

# Only what reads bags is imported here; generating, playing and recording need rclpy and live
# in wildcam.bags.generate / .play / .record, so the day report reads bags without ROS.
from wildcam.bags.info import BagInfo, TopicInfo, format_info, info
from wildcam.bags.typestore import msg_dir, typestore

__all__ = ["BagInfo", "TopicInfo", "format_info", "info", "msg_dir", "typestore"]
