"""Typed models shared by the core, the server, the client and the faces."""

from jobbers.models.queue import QueueConfig, RatePeriod, Role
from jobbers.models.task import Task, TaskError, TaskStatus
from jobbers.models.task_config import (
    BackoffStrategy,
    DeadLetterPolicy,
    TaskConfig,
    TaskShutdownPolicy,
)

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
