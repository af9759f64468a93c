"""The only shared ROS glue: parameters, message conversion, QoS, diagnostics, node running."""
