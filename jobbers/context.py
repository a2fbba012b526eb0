"""The handle a running task uses to talk about itself: ``await task.heartbeat()``.

``task`` is a module-level proxy bound, through a context variable, to the run the
current coroutine belongs to; ``current_task()`` is the explicit accessor.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jobbers.errors import JobbersError, RunStopped


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
    # Workflows: each parent's status (its outcome; ``jobbers.store.workflows``) and the results
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

    def heartbeat_sync(self, progress: float | None = None, message: str | None = None) -> None:
        """``heartbeat`` for a plain ``def`` task, called from its worker thread.

        It waits for the beat to be sent by the worker's event loop. Once the run was
        stopped (cancelled, timed out, or its worker stopping) it raises ``RunStopped``,
        since a thread cannot be interrupted any other way.
        """
        if progress is not None and not 0.0 <= float(progress) <= 1.0:
            raise ValueError("progress must be between 0 and 1")
        loop, stop = _sync_loop.get(), _sync_stop.get()
        if loop is None or stop is None:
            raise NotInTask("heartbeat_sync() is for `def` tasks; use `await task.heartbeat()`")
        _raise_if_stopped(self, stop)
        if _on_loop(loop):  # waiting here for the loop would block it for good
            raise RuntimeError("heartbeat_sync() called on the event loop's thread")

        async def send() -> None:
            await self.beat(progress, message)

        beat = asyncio.run_coroutine_threadsafe(send(), loop)
        try:
            beat.result(timeout=_SYNC_BEAT_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            _log.warning("task %s: heartbeat not sent within %ss", self.id, _SYNC_BEAT_TIMEOUT_S)
        except concurrent.futures.CancelledError:
            pass  # the loop is closing: the stop check below tells the task
        _raise_if_stopped(self, stop)


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

    def heartbeat_sync(self, progress: float | None = None, message: str | None = None) -> None:
        """Heartbeat of the current plain ``def`` task (see RunContext.heartbeat_sync)."""
        current_task().heartbeat_sync(progress, message)

    def __getattr__(self, name: str) -> Any:
        return getattr(current_task(), name)


task = _TaskProxy()


# ---------------------------------------------------------------- plain ``def`` tasks
# The worker sets these in a ``def`` task's context before handing it to a thread: the
# loop that sends its beats, and the flag its run was stopped by.
_log = logging.getLogger("jobbers.runtime.worker")
_SYNC_BEAT_TIMEOUT_S = 30.0
_sync_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar(
    "jobbers_sync_loop", default=None
)
_sync_stop: ContextVar[threading.Event | None] = ContextVar("jobbers_sync_stop", default=None)


def bind_thread(loop: asyncio.AbstractEventLoop, stop: threading.Event) -> None:
    """Prepare the current context for a ``def`` task run in a thread (the worker calls it)."""
    _sync_loop.set(loop)
    _sync_stop.set(stop)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _raise_if_stopped(ctx: RunContext, stop: threading.Event) -> None:
    if stop.is_set():
        raise RunStopped(f"run {ctx.run_id} of task {ctx.id} was stopped")


def running_task() -> RunContext | None:
    """The running task's handle, or None outside a task (for log formatters and hooks)."""
    return _current.get()
