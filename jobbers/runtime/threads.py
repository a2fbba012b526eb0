"""The worker's thread pool for plain ``def`` tasks.

Not ``concurrent.futures.ThreadPoolExecutor``: its threads are joined when the
interpreter exits, so one task blocked in a ``def`` would hold a stopping worker's process
forever. A Python thread cannot be killed; these are daemon threads, which the process's
exit ends, after the worker has recorded (or handed back) every run per its policies.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_Item = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadPool(Executor):
    """At most ``size`` daemon threads, started on demand, taking calls in order."""

    def __init__(self, size: int, name: str = "jobbers-task") -> None:
        if size < 1:
            raise ValueError("a thread pool needs at least one thread")
        self.size, self.name = size, name
        self._calls: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue ``fn(*args, **kwargs)``; a thread is started while fewer than ``size`` run."""
        future: Future[T] = Future()
        self._calls.put((future, fn, args, kwargs))
        if not self._idle.acquire(blocking=False):
            with self._lock:
                if len(self._threads) < self.size:
                    thread = threading.Thread(
                        target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                    )
                    self._threads.append(thread)
                    thread.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Let each thread end after its current call (never waits for a blocked one)."""
        for _ in self._threads:
            self._calls.put(None)

    def _work(self) -> None:
        while (item := self._calls.get()) is not None:
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)
            del item, future, fn, args, kwargs  # drop the call's references while idle
            self._idle.release()
