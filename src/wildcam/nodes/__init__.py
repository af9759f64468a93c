"""One thin ROS node per file: declare parameters, convert messages, call the logic."""
