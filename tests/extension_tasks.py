"""Tasks and hooks for the worker subprocesses of tests/test_hooks.py and test_sync_tasks.py.

A plain ``def`` task module with two global hooks: one that raises from every method (its
failures must change nothing) and one that appends each call to the file named by
``HOOK_LOG`` (one line: method, task id, and what the method was told).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from jobbers import hooks, task
from jobbers.hooks import Hook, RunInfo, RunOutcome
from jobbers.models.task_config import DeadLetterPolicy
from jobbers.registry import register_task

HOOK_LOG_ENV = "HOOK_LOG"


class Flaky(Exception):
    """An expected, retryable failure."""


class Exploding(Hook):
    """Raises from every method."""

    def before_run(self, info: RunInfo) -> None:
        raise RuntimeError("before_run exploded")

    def after_run(
        self, info: RunInfo, outcome: RunOutcome, error: BaseException | None, duration: float
    ) -> None:
        raise RuntimeError("after_run exploded")

    def on_retry(self, info: RunInfo, error: BaseException | None, delay: float | None) -> None:
        raise RuntimeError("on_retry exploded")

    def on_dead_letter(self, info: RunInfo, error: BaseException | None, saved: bool) -> None:
        raise RuntimeError("on_dead_letter exploded")


class FileRecorder(Hook):
    """Appends one line per call to $HOOK_LOG (its method name prefixed with ``tag``)."""

    def __init__(self, tag: str = "") -> None:
        self.tag = tag

    def _write(self, method: str, *fields: object) -> None:
        path = os.environ.get(HOOK_LOG_ENV)
        if path:
            with open(path, "a") as out:
                out.write(" ".join(str(f) for f in (self.tag + method, *fields)) + "\n")

    def before_run(self, info: RunInfo) -> None:
        self._write("before_run", info.id, info.attempt)

    def after_run(
        self, info: RunInfo, outcome: RunOutcome, error: BaseException | None, duration: float
    ) -> None:
        self._write("after_run", info.id, outcome, type(error).__name__, f"{duration:.3f}")

    def on_retry(self, info: RunInfo, error: BaseException | None, delay: float | None) -> None:
        self._write("on_retry", info.id, type(error).__name__)

    def on_dead_letter(self, info: RunInfo, error: BaseException | None, saved: bool) -> None:
        self._write("on_dead_letter", info.id, type(error).__name__, saved)


hooks.add(Exploding(), FileRecorder())


@register_task(name="ext_add", version=1, max_concurrent=None)
async def ext_add(**kwargs: Any) -> dict[str, Any]:
    return {"sum": kwargs["a"] + kwargs["b"]}


@register_task(name="ext_own", version=1, max_concurrent=None, hooks=[FileRecorder("own.")])
async def ext_own(**kwargs: Any) -> None:
    """A task with a hook of its own, run after the global ones."""


@register_task(
    name="ext_flaky",
    version=1,
    max_retries=1,
    expected_exceptions=(Flaky,),
    dead_letter_policy=DeadLetterPolicy.SAVE,
    max_concurrent=None,
)
async def ext_flaky(**kwargs: Any) -> None:
    raise Flaky("always")


@register_task(name="sync_block", version=1, max_concurrent=None)
def sync_block(**kwargs: Any) -> dict[str, Any]:
    """Blocks its thread for ``seconds`` between two synchronous heartbeats."""
    task.heartbeat_sync(0.0, "blocking")
    time.sleep(float(kwargs.get("seconds", 3)))
    task.heartbeat_sync(1.0, "done")
    return {"thread": threading.current_thread().name, "id": task.id}


@register_task(name="sync_spin", version=1, max_concurrent=None)
def sync_spin(**kwargs: Any) -> None:
    """Beats every 50 ms for up to a minute: only a stop (RunStopped) ends it early."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.05)
        task.heartbeat_sync()


@register_task(name="sync_sleepy", version=1, timeout=1, max_retries=0, max_concurrent=None)
def sync_sleepy(**kwargs: Any) -> dict[str, Any]:
    """Outlives its 1 s timeout without a heartbeat: its late result must be discarded."""
    time.sleep(float(kwargs.get("seconds", 2)))
    return {"late": True}
