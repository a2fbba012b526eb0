"""jobbers.server."""
