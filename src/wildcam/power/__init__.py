"""Power and energy logic (no rclpy): device profiles, the energy ledger, battery models and
sources, and the mode policy with hysteresis and dwell."""
