"""Typed models shared by the core, the server, the client and the faces.

The models are imported on first access (PEP 562), so that importing a light submodule,
``jobbers.models.enums`` above all, does not load pydantic: the CLI draws its help pages and
choices from the enums alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from jobbers.models.enums import (
    BackoffStrategy,
    DeadLetterPolicy,
    RatePeriod,
    TaskShutdownPolicy,
    TaskStatus,
)

if TYPE_CHECKING:
    from jobbers.models.queue import QueueConfig, Role
    from jobbers.models.task import Task, TaskError
    from jobbers.models.task_config import TaskConfig

_MODELS = {
    "QueueConfig": "queue",
    "Role": "queue",
    "Task": "task",
    "TaskError": "task",
    "TaskConfig": "task_config",
}

__all__ = [
    "BackoffStrategy",
    "DeadLetterPolicy",
    "QueueConfig",
    "RatePeriod",
    "Role",
    "Task",
    "TaskConfig",
    "TaskError",
    "TaskShutdownPolicy",
    "TaskStatus",
]


def __getattr__(name: str) -> Any:
    """A model named in ``__all__``, imported from its module when first asked for."""
    if name in _MODELS:
        return getattr(importlib.import_module(f"jobbers.models.{_MODELS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
