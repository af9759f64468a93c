"""The fleet: a trap's MQTT protocol (topics, payloads, commands, Home Assistant discovery), its
durable MQTT link, and the ``mqtt_bridge`` node's parameters. Nothing here imports rclpy."""
