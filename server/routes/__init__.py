"""One APIRouter per resource: tasks, queues, roles, dead-letter queue, dashboard, health, docs.

The routers import the server's ``deps`` and ``errors`` from the parent package
(``from ..deps import``, marked ``noqa: TID252``): an absolute ``jobbers.server`` import would
work at run time but hide every type from mypy, which cannot follow the editable mapping.
"""
