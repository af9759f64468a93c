"""``wildcam run``: the whole graph plays a compressed day; a report says what happened."""
