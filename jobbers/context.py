"""The handle a running task uses to talk about itself: ``await task.heartbeat()``.

``task`` is a module-level proxy bound, through a context variable, to the run the
current coroutine belongs to; ``current_task()`` is the explicit accessor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jobbers.errors import JobbersError


class NotInTask(JobbersError, RuntimeError):
    """Raised when the task handle is used outside a running task."""


@dataclass
class RunContext:
    """The running task: its identity, and how to reach its worker."""

    id: str
    run_id: str
    name: str
    version: int
    attempt: int
    parameters: dict[str, Any]
    beat: Callable[[float | None, str | None], Awaitable[None]] = field(repr=False)
    # Workflows: each parent's status (its outcome; ``jobbers.workflows``) and the results
    # of those that have them, read by the worker before the run; empty without parents.
    parents: dict[str, str] = field(default_factory=dict)
    parent_results: dict[str, Any] = field(default_factory=dict)

    async def heartbeat(self, progress: float | None = None, message: str | None = None) -> None:
        """Reset the stall clock, optionally reporting progress (0..1) and a short message.

        If a cancel was requested meanwhile, the task is cancelled at its next ``await``.
        When Redis cannot be reached the beat is logged and skipped, never raised: the
        worker's lease covers the run, and the cleaner gives the deadline back the time
        the outage took.
        """
        if progress is not None and not 0.0 <= float(progress) <= 1.0:
            raise ValueError("progress must be between 0 and 1")
        await self.beat(progress, message)


_current: ContextVar[RunContext | None] = ContextVar("jobbers_current_task", default=None)


def current_task() -> RunContext:
    """The running task's handle; NotInTask outside a task."""
    ctx = _current.get()
    if ctx is None:
        raise NotInTask("no jobbers task is running in this context")
    return ctx


def bind(ctx: RunContext | None) -> object:
    """Bind the handle for the current context (the worker calls this); returns a token."""
    return _current.set(ctx)


class _TaskProxy:
    """``task.heartbeat()`` and ``task.id`` etc. for whichever task is running."""

    async def heartbeat(self, progress: float | None = None, message: str | None = None) -> None:
        """Heartbeat of the current task (see RunContext.heartbeat)."""
        await current_task().heartbeat(progress, message)

    def __getattr__(self, name: str) -> Any:
        return getattr(current_task(), name)


task = _TaskProxy()
