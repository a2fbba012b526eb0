"""jobbers: a Redis task queue for asyncio, operated from the terminal.

The core (this package) imports neither FastAPI, Typer nor Textual; the faces
(``jobbers.server``, ``jobbers.cli``, ``jobbers.tui``) depend on it, never the reverse.
The re-exports below load on first use (PEP 562): every ``jobbers`` command imports this
package, and building the pydantic models here would cost it ~150 ms at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobbers.context import current_task, task
    from jobbers.models.task_config import BackoffStrategy, DeadLetterPolicy, TaskShutdownPolicy
    from jobbers.registry import register_task

__all__ = [
    "BackoffStrategy",
    "DeadLetterPolicy",
    "TaskShutdownPolicy",
    "current_task",
    "register_task",
    "task",
]
__version__ = "0.1.0"

_EXPORTS = {
    "task": "jobbers.context",
    "current_task": "jobbers.context",
    "register_task": "jobbers.registry",
    "BackoffStrategy": "jobbers.models.task_config",
    "DeadLetterPolicy": "jobbers.models.task_config",
    "TaskShutdownPolicy": "jobbers.models.task_config",
}


def __getattr__(name: str) -> Any:
    if name == "hooks":  # ``jobbers.hooks.add(...)`` after a bare ``import jobbers``
        return importlib.import_module("jobbers.hooks")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'jobbers' has no attribute {name!r}")
