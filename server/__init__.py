"""jobbers.server: the manager, the HTTP API over the StateManager (``create_app``).

Importing this package loads nothing heavy; ``jobbers.server.app`` brings in FastAPI.
"""
