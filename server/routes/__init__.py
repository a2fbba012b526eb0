"""One APIRouter per resource: tasks, queues, roles, dead-letter queue, dashboard, health, docs.

The routers import the server's ``deps`` and ``errors`` from the parent package
(``from ..deps import``); the rule for the faces' imports is in ``pyproject.toml``.
"""
