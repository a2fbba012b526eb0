"""jobbers: a Redis task queue for asyncio, operated from the terminal.

The core (this package) imports neither FastAPI, Typer nor Textual; the faces
(``jobbers.server``, ``jobbers.cli``, ``jobbers.tui``) depend on it, never the reverse.
"""

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
