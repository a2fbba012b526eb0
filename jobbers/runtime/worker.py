"""The worker: claims tasks from its role's queues and runs them.

A ``Worker`` owns only the lifecycle: register, start the loops, stop per each task's
shutdown policy, deregister. It composes three parts, which share one event loop:

* the ``Fetcher`` (``jobbers.runtime.fetcher``) decides which queues it may take from,
  blocks on their doorbells and claims tasks atomically;
* the ``Runner`` (``jobbers.runtime.runner``) runs each claimed task, encodes how it ended
  and records that, in batches;
* the ``Heartbeat`` (``jobbers.runtime.heartbeat``) renews the worker's lease, records its
  tasks' heartbeats and applies pub/sub hints (cancel, config) at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ulid import ULID

from jobbers.errors import JobbersError
from jobbers.models.task_config import TaskShutdownPolicy
from jobbers.registry import registered_tasks
from jobbers.runtime.backoff import REDIS_ERRORS, retry_redis
from jobbers.runtime.fetcher import Fetcher, Routing
from jobbers.runtime.heartbeat import WATCHDOG_EXIT, Heartbeat, Watchdog
from jobbers.runtime.runner import Run, Runner
from jobbers.store.facade import StateManager
from jobbers.store.protocol import StopReason
from jobbers.store.runs import connection_name

if TYPE_CHECKING:
    from jobbers.runtime.settings import WorkerEnv

__all__ = [
    "WATCHDOG_EXIT",
    "Run",
    "Worker",
    "WorkerCrashed",
    "WorkerSettings",
    "new_worker_id",
    "stop_loops",
]

log = logging.getLogger("jobbers.runtime.worker")


class WorkerCrashed(JobbersError):
    """Raised by ``Worker.run`` after a background loop failed and the worker stopped."""


async def stop_loops(loops: list[asyncio.Task[None]]) -> None:
    """Cancel ``loops`` and wait for them, cancelling again while one still runs.

    One cancel is not always enough: on Python 3.11 ``asyncio.wait_for``, which redis-py
    sends every command through, drops a cancel that lands as its inner call completes,
    and a ``while True`` loop then runs on and holds the worker's exit forever.
    """
    pending = {loop for loop in loops if not loop.done()}
    while pending:
        for loop in pending:
            loop.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)
    await asyncio.gather(*loops, return_exceptions=True)


@dataclass
class WorkerSettings:
    """How a worker behaves; ``from_env`` reads the documented environment variables."""

    role: str = "default"
    concurrency: int = 10
    lease_ms: int = 15_000
    block_timeout: float = 5.0
    max_recoveries: int = 3
    # Exit the process when the event loop has not run for a whole lease (``Watchdog``).
    # On in worker processes (``from_env``); off by default so that an in-process worker
    # (tests, embedding) never ends its host process.
    watchdog: bool = False
    # Threads for plain ``def`` tasks (WORKER_THREADS); None: as many as ``concurrency``.
    threads: int | None = None

    @classmethod
    def from_env(cls, env: WorkerEnv | None = None) -> WorkerSettings:
        """The settings ``WorkerEnv`` reads (``jobbers_worker --help`` lists them).

        The watchdog is on unless JOBBERS_WATCHDOG=0.
        """
        if env is None:
            from jobbers.runtime.settings import WorkerEnv

            env = WorkerEnv()
        return cls(**env.values_for(cls))

    @property
    def beat_interval(self) -> float:
        """Seconds between lease renewals: a third of the lease."""
        return self.lease_ms / 3000


def new_worker_id() -> str:
    """A worker id: host, pid and a random tail (a pid is reused after a restart)."""
    return f"{socket.gethostname()}-{os.getpid()}-{str(ULID())[-6:]}"


class Worker:
    """One worker process's runtime: its lifecycle, over a fetcher, a runner and a heartbeat."""

    def __init__(
        self,
        state: StateManager,
        settings: WorkerSettings | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.state = state
        self.settings = settings or WorkerSettings()
        self.id = worker_id or new_worker_id()
        self.registry = {cfg.key: cfg for cfg in registered_tasks().values()}
        self.stopping = False
        self.retiring = False  # stopping because the role was deleted: runs may finish
        self.hard_stop = False
        self.crashed: str | None = None  # the loop that failed, when one did
        # When this worker last (re)registered or met an outage: peers are reaped only a
        # lease after it (see ``Heartbeat.beat_once``).
        self.connected_since = time.monotonic()
        self._done = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self.runner = Runner(self)
        self.fetcher = Fetcher(self)
        self.heartbeat = Heartbeat(self)

    @property
    def runs(self) -> dict[str, Run]:
        """The runs in progress, by task id."""
        return self.runner.runs

    @property
    def routing(self) -> Routing:
        """The queues of the worker's role and their configs."""
        return self.fetcher.routing

    @property
    def processed(self) -> int:
        """How many runs this worker has ended."""
        return self.runner.processed

    @property
    def wake_key(self) -> str:
        """This worker's private doorbell."""
        return self.fetcher.wake_key

    async def refresh_routing(self) -> None:
        """Re-read the role and queue configs (after a hint or a version change)."""
        await self.fetcher.refresh_routing()

    async def beat_once(self, reap: bool = True) -> None:
        """One lease beat (``Heartbeat.beat_once``)."""
        await self.heartbeat.beat_once(reap)

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Register, work until asked to stop, then shut down per task policy."""
        await self._retrying(self.state.ensure_defaults)
        await self._retrying(self.register)
        await self._retrying(self.fetcher.refresh_routing)
        log.info(
            "worker %s started: role %s, queues %s",
            self.id,
            self.settings.role,
            self.routing.queues,
        )
        self._loops = [
            asyncio.create_task(self.fetcher.run(), name="fetch"),
            asyncio.create_task(self.heartbeat.run(), name="beat"),
            asyncio.create_task(self.heartbeat.listen(), name="listen"),
        ]
        for loop in self._loops:
            loop.add_done_callback(self._loop_ended)
        watchdog = ticker = None
        if self.settings.watchdog:
            watchdog = Watchdog(self.settings.lease_ms / 1000)
            ticker = asyncio.create_task(watchdog.ticker(), name="watchdog")
            watchdog.start()
        await self._done.wait()
        try:
            await self._shutdown()
        finally:
            if watchdog is not None and ticker is not None:
                watchdog.stop()
                await stop_loops([ticker])
        if self.crashed is not None:
            raise WorkerCrashed(f"worker {self.id}: its {self.crashed} loop failed") from None

    def _loop_ended(self, loop: asyncio.Task[None]) -> None:
        """A loop that dies of a bug stops the worker (exit 1) instead of leaving it half alive.

        Without its heartbeat a worker's tasks are re-run elsewhere while it still runs
        them; without its fetcher it holds a lease and does nothing. Both are worse than
        exiting, which a supervisor notices and restarts.
        """
        if loop.cancelled() or self.stopping or loop.exception() is None:
            return
        log.critical(
            "the %s loop failed; stopping the worker", loop.get_name(), exc_info=loop.exception()
        )
        self.crashed = loop.get_name()
        self.request_shutdown()

    def request_retire(self) -> None:
        """Its role was deleted (``jobbers dev`` sends SIGUSR1): finish, then exit.

        Deleting a role is a routine admin action, so no task may end ``stalled`` by it:
        the worker takes nothing new, re-queues the runs whose policy is RESUBMIT and lets
        the others (STOP, CONTINUE) finish. A stop signal meanwhile is a first one: it
        applies the shutdown policies to what still runs.
        """
        if self.stopping:
            return
        log.info("retiring (role deleted): no new tasks; %d running finish", len(self.runs))
        self.retiring = True
        self.stopping = True
        for run in list(self.runs.values()):
            if run.config.on_shutdown == TaskShutdownPolicy.RESUBMIT:
                self.runner.stop_run(run, StopReason.RESUBMITTED)
        self._done.set()
        self.fetcher.changed.set()

    def request_shutdown(self) -> None:
        """First call: stop taking tasks and apply each task's policy. Second: exit now."""
        if self.stopping and not self.retiring:
            log.warning("second stop signal: stopping every task now")
            self.hard_stop = True
            for run in list(self.runs.values()):
                self.runner.stop_run(run, StopReason.STOPPED)
            return
        log.info(
            "stop signal: no new tasks; applying shutdown policies to %d running", len(self.runs)
        )
        self.retiring = False
        self.stopping = True
        for run in list(self.runs.values()):
            if run.stop_reason is not None:
                continue  # already being stopped (re-queued on retiring, or cancelled)
            match run.config.on_shutdown:
                case TaskShutdownPolicy.STOP:
                    self.runner.stop_run(run, StopReason.STOPPED)
                case TaskShutdownPolicy.RESUBMIT:
                    self.runner.stop_run(run, StopReason.RESUBMITTED)
                case TaskShutdownPolicy.CONTINUE:
                    pass
        self._done.set()
        self.fetcher.changed.set()

    async def _shutdown(self) -> None:
        # Let the fetcher finish its current claim rather than cancel it mid-flight (a
        # claim whose reply is lost would leave tasks held by nobody until recovery).
        fetch = self._loops[0]
        self.fetcher.changed.set()
        with contextlib.suppress(*REDIS_ERRORS):
            await self.state.wake(self.wake_key)
        try:
            await asyncio.wait_for(asyncio.shield(fetch), self.settings.block_timeout + 5)
        except Exception:  # a timeout, an outage, or the failure _loop_ended logged
            fetch.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await fetch
        await self.runner.drain()
        self.runner.stop_threads()
        await stop_loops(self._loops[1:])
        with contextlib.suppress(*REDIS_ERRORS):
            await self.state.deregister_worker(self.id)
        log.info("worker %s stopped after %d tasks", self.id, self.processed)

    async def register(self) -> None:
        """Register this worker (again, after its lease lapsed) with a fresh lease."""
        info = {
            "role": self.settings.role,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "concurrency": self.settings.concurrency,
            "queues": json.dumps(self.routing.queues),
        }
        if self.state.client_name == connection_name(self.id):
            # Every connection of this process carries the name: once Redis holds none,
            # the process is gone, and the cleaner's connection watch reaps it at once.
            info["conn"] = connection_name(self.id)
        await self.state.register_worker(self.id, self.settings.lease_ms, info)
        self.connected_since = time.monotonic()

    async def _retrying(self, fn: Callable[[], Awaitable[object]]) -> None:
        def paused(exc: BaseException, pause: float) -> None:
            log.warning("redis unavailable (%s); retrying in %.1fs", exc, pause)

        await retry_redis(fn, paused)
