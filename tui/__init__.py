"""jobbers.tui."""
