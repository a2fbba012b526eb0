"""jobbers.cli."""
