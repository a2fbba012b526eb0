"""The worker: claims tasks from its role's queues and runs them.

Three loops share one event loop:

* the fetcher blocks on the doorbells of the queues it may take from (no polling) and
  claims tasks atomically; full queues, rate-limited and paused queues are left out of
  the wait, so they never block the others, and a task type at its cap only waits itself
  (the claim reads each type's own list; the type's own doorbell brings it back);
* the heartbeat renews the worker's lease, learns about lost runs and durable cancel
  requests, catches up on missed config changes, and recovers dead peers;
* the listener applies pub/sub hints (cancel, config) at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import socket
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

import redis.exceptions
from ulid import ULID

from jobbers.context import RunContext, bind, bind_thread, current_task
from jobbers.errors import JobbersError, RoleNotFound, StoreUnavailable
from jobbers.hooks import Hook, RunInfo, RunOutcome, for_task
from jobbers.hooks import call as call_hooks
from jobbers.models.document import check_document
from jobbers.models.queue import QueueConfig, QueueStrategy, Role
from jobbers.models.task_config import DeadLetterPolicy, TaskConfig, TaskShutdownPolicy
from jobbers.registry import registered_tasks
from jobbers.runtime.threads import DaemonThreadPool
from jobbers.store.facade import StateManager
from jobbers.store.protocol import (
    ClaimedTask,
    ClaimResult,
    ClaimSpec,
    ClaimStatus,
    Outcome,
    StopReason,
    TaskBeatReply,
    TypeSpec,
)
from jobbers.store.runs import FinishArgs, connection_name
from jobbers.store.workflows import decode_parents

log = logging.getLogger("jobbers.runtime.worker")
outcomes_log = logging.getLogger("jobbers.runtime.worker.outcomes")  # one line per task outcome
HARD_STOP_GRACE_S = 5.0
MAX_RESULT_BYTES = 1024 * 1024


def _capped_with_room(known: dict[str, ClaimSpec]) -> list[str]:
    """The capped task types with a free slot: the type doorbells a fetcher waits on.

    A claim that leaves tasks of a capped type at its worker's cap rings that type's bell
    instead of the queue's, so that workers at the same cap are not woken in a loop.
    """
    return sorted(key for key, spec in known.items() if spec.free > 0)


def _call_fenced(run: Run, stop: threading.Event) -> Any:
    """Call a ``def`` task in its thread; a result that comes after its run stopped is dropped."""
    claimed = run.claimed
    try:
        result = run.config.function(**claimed.parameters)
    finally:
        if stop.is_set():
            log.warning(
                "task %s: run %s went on in its thread after it was stopped; "
                "what it returned or raised is discarded",
                claimed.id,
                claimed.run_id,
            )
    return result


class WorkerCrashed(JobbersError):
    """Raised by ``Worker.run`` after a background loop failed and the worker stopped."""


REDIS_ERRORS = (
    StoreUnavailable,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
)
# What a loop that must outlive Redis trouble retries: the outages above, plus error
# replies (OOM under maxmemory, CLIENT UNBLOCK ... ERROR, a script killed as BUSY), which
# would otherwise end the loop and leave a worker that looks alive but no longer works.
RETRIED = (*REDIS_ERRORS, redis.exceptions.ResponseError)
# The longest pause between two retries of a loop while Redis is away: work resumes within
# about this long once it is back, whatever the outage lasted (10 s made a worker sit idle
# for up to 10 s after a long outage), at the cost of one log line per loop per pause.
RETRY_MAX_S = 2.0
# Error replies that say "not now" (memory, a busy script, a loading or read-only server):
# retried as long as they last. Any other error reply to an outcome is the script refusing
# it, which repeats the same way every time (see ``Worker._record``).
TRANSIENT_REPLIES = ("OOM", "BUSY", "LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "NOREPLICAS")
# How often one outcome may meet the same refusal before it is recorded as a failure.
MAX_REFUSALS = 3
# The exit status of a worker whose watchdog found its event loop blocked (EX_SOFTWARE).
WATCHDOG_EXIT = 70


def is_transient(exc: BaseException) -> bool:
    """True for an error reply that a later attempt may not meet (see TRANSIENT_REPLIES).

    redis-py strips the code of the replies it has a class for (OOM, READONLY...) from
    the message and keeps it as ``status_code``; others keep it at the message's start.
    """
    if isinstance(exc, redis.exceptions.OutOfMemoryError | redis.exceptions.ReadOnlyError):
        return True
    code = getattr(exc, "status_code", None) or str(exc).split(" ", 1)[0]
    return code in TRANSIENT_REPLIES


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
    def from_env(cls) -> WorkerSettings:
        """WORKER_ROLE, WORKER_CONCURRENT_TASKS, JOBBERS_WORKER_LEASE_MS, JOBBERS_MAX_RECOVERIES.

        The watchdog is on unless JOBBERS_WATCHDOG=0.
        """
        return cls(
            role=os.environ.get("WORKER_ROLE", "default"),
            concurrency=int(os.environ.get("WORKER_CONCURRENT_TASKS", "10")),
            lease_ms=int(os.environ.get("JOBBERS_WORKER_LEASE_MS", "15000")),
            max_recoveries=int(os.environ.get("JOBBERS_MAX_RECOVERIES", "3")),
            watchdog=os.environ.get("JOBBERS_WATCHDOG", "1") != "0",
            threads=int(os.environ["WORKER_THREADS"]) if os.environ.get("WORKER_THREADS") else None,
        )

    @property
    def beat_interval(self) -> float:
        """Seconds between lease renewals: a third of the lease."""
        return self.lease_ms / 3000


def encode_results(result: object) -> str:
    """The JSON a task's return value is stored as; TypeError/ValueError say what is wrong."""
    if result is None:
        return "{}"  # most tasks return nothing: skip the encoder
    results = result
    if not isinstance(results, dict):
        raise TypeError(f"task must return a dict or None, not {type(result).__name__}")
    try:
        payload = json.dumps(results, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"result is not JSON serialisable: {exc}") from None
    check_document(results, "results", payload)  # InvalidDocument, a ValueError
    if len(payload) > MAX_RESULT_BYTES:
        raise ValueError(f"result is {len(payload)} bytes, over the {MAX_RESULT_BYTES} limit")
    return payload


class OutcomeWriter:
    """Batches the outcomes that land in one event-loop tick into one script call.

    Under load many runs end together; writing them in one round trip instead of one
    each is most of the difference between a fast and a slow drain.
    """

    def __init__(self, state: StateManager) -> None:
        self.state = state
        self.pending: list[tuple[FinishArgs, asyncio.Future[Outcome]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, args: FinishArgs) -> Outcome:
        """Queue one outcome and wait for its answer (or the Redis error)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.pending.append((args, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self.pending:
            await asyncio.sleep(0)  # let the other outcomes of this tick join the batch
            batch, self.pending = self.pending[:200], self.pending[200:]
            try:
                results = await self.state.finish_many([args for args, _ in batch])
            except redis.exceptions.ResponseError as exc:
                if len(batch) > 1 and not is_transient(exc):
                    # The script refused the batch: write each outcome alone, so one bad
                    # outcome cannot hold back the others.
                    await self._one_by_one(batch)
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _one_by_one(self, batch: list[tuple[FinishArgs, asyncio.Future[Outcome]]]) -> None:
        for args, future in batch:
            try:
                [result] = await self.state.finish_many([args])
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(result)


class Watchdog:
    """Ends the process when its event loop stops turning for a whole lease.

    A task that blocks the loop (``time.sleep``, CPU-bound code, a C call holding it)
    stops the heartbeat: the lease lapses, the task is re-run elsewhere, and this worker
    would hold its slots, and its stuck run, for as long as the block lasts. A thread
    cannot unblock the loop, but it can see that the loop's timestamp stopped moving and
    exit, so the slot is given back and a supervisor restarts the worker.
    """

    def __init__(self, lease_s: float) -> None:
        self.lease_s = lease_s
        self.tick = time.monotonic()
        self._stop = threading.Event()

    async def ticker(self) -> None:
        """Keep the timestamp fresh while the loop runs (a tenth of a lease apart)."""
        while True:
            self.tick = time.monotonic()
            await asyncio.sleep(self.lease_s / 10)

    def start(self) -> None:
        """Start the watching thread (a daemon: it never holds the process's exit)."""
        threading.Thread(target=self._watch, name="jobbers-watchdog", daemon=True).start()

    def stop(self) -> None:
        """Stop watching (the worker is exiting on its own)."""
        self._stop.set()

    def _watch(self) -> None:
        period = self.lease_s / 10
        last = time.monotonic()
        while not self._stop.wait(period):
            now = time.monotonic()
            if now - last > 3 * period:
                # This thread was held up too: the whole process was frozen (SIGSTOP, a
                # paused VM), not the loop blocked. Give the loop a lease from now.
                self.tick = now
            last = now
            stalled = now - self.tick
            if stalled > self.lease_s and not self._stop.is_set():
                log.critical(
                    "watchdog: the event loop has not run for %.1fs, over the %.1fs lease: "
                    "a task is blocking it (time.sleep, CPU-bound or blocking I/O code). "
                    "Exiting with status %d so its tasks are recovered elsewhere",
                    stalled,
                    self.lease_s,
                    WATCHDOG_EXIT,
                )
                for handler in logging.getLogger().handlers:
                    with contextlib.suppress(Exception):
                        handler.flush()
                os._exit(WATCHDOG_EXIT)


@dataclass
class Run:
    """A task this worker is running."""

    claimed: ClaimedTask
    config: TaskConfig
    queue: str
    atask: asyncio.Task[None] | None = None
    stop_reason: StopReason | None = None
    error: BaseException | None = None  # what the task raised, for the hooks
    thread_stop: threading.Event | None = None  # set to stop a ``def`` task's thread


@dataclass
class Routing:
    """The queues of the worker's role and their configs."""

    queues: list[str] = field(default_factory=list)
    configs: dict[str, QueueConfig] = field(default_factory=dict)
    version: int = -1
    # How the starts are shared between the queues (issue 15 part 3; see `_in_turn`).
    strategy: QueueStrategy = QueueStrategy.ROUND_ROBIN
    weights: dict[str, int] = field(default_factory=dict)


def new_worker_id() -> str:
    """A worker id: host, pid and a random tail (a pid is reused after a restart)."""
    return f"{socket.gethostname()}-{os.getpid()}-{str(ULID())[-6:]}"


class Worker:
    """One worker process's runtime."""

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
        self.type_specs = {
            key: TypeSpec(
                int(cfg.max_heartbeat_interval.total_seconds() * 1000)
                if cfg.max_heartbeat_interval
                else 0,
                1 if cfg.dead_letter_policy == "save" else 0,
            )
            for key, cfg in self.registry.items()
        }
        self.runs: dict[str, Run] = {}
        self.routing = Routing()
        self.not_before: dict[str, float] = {}
        self.blocked: set[str] = set()
        # The free slots per type told to the claim sent ahead of the current blocking wait.
        self._armed_known: dict[str, ClaimSpec] | None = None
        self.hot: set[str] = set()
        self.writer = OutcomeWriter(state)
        self.stopping = False
        self.retiring = False  # stopping because the role was deleted: runs may finish
        self.hard_stop = False
        self.crashed: str | None = None  # the loop that failed, when one did
        self.processed = 0
        self._changed = asyncio.Event()
        self._done = asyncio.Event()
        self._blocking_on: list[str] | None = None
        self._rotation = 0
        self._credit: Counter[str] = Counter()  # the weighted strategy's credit per queue
        self._connected_since = time.monotonic()
        self._loops: list[asyncio.Task[None]] = []
        self._threads: DaemonThreadPool | None = None  # made on the first ``def`` task

    @property
    def wake_key(self) -> str:
        """This worker's private doorbell."""
        return self.state.keys.wake(self.id)

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Register, work until asked to stop, then shut down per task policy."""
        await self._retrying(self.state.ensure_defaults)
        await self._retrying(self._register)
        await self._retrying(self.refresh_routing)
        log.info(
            "worker %s started: role %s, queues %s",
            self.id,
            self.settings.role,
            self.routing.queues,
        )
        self._loops = [
            asyncio.create_task(self._fetch_loop(), name="fetch"),
            asyncio.create_task(self._beat_loop(), name="beat"),
            asyncio.create_task(self._listen_loop(), name="listen"),
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
                self._stop_run(run, StopReason.RESUBMITTED)
        self._done.set()
        self._changed.set()

    def request_shutdown(self) -> None:
        """First call: stop taking tasks and apply each task's policy. Second: exit now."""
        if self.stopping and not self.retiring:
            log.warning("second stop signal: stopping every task now")
            self.hard_stop = True
            for run in list(self.runs.values()):
                self._stop_run(run, StopReason.STOPPED)
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
                    self._stop_run(run, StopReason.STOPPED)
                case TaskShutdownPolicy.RESUBMIT:
                    self._stop_run(run, StopReason.RESUBMITTED)
                case TaskShutdownPolicy.CONTINUE:
                    pass
        self._done.set()
        self._changed.set()

    async def _shutdown(self) -> None:
        # Let the fetcher finish its current claim rather than cancel it mid-flight (a
        # claim whose reply is lost would leave tasks held by nobody until recovery).
        fetch = self._loops[0]
        self._changed.set()
        with contextlib.suppress(*REDIS_ERRORS):
            await self.state.wake(self.wake_key)
        try:
            await asyncio.wait_for(asyncio.shield(fetch), self.settings.block_timeout + 5)
        except Exception:  # a timeout, an outage, or the failure _loop_ended logged
            fetch.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await fetch
        await self._drain_runs()
        if self._threads is not None:
            self._threads.shutdown()  # idle threads end; a blocked one dies with the process
        await stop_loops(self._loops[1:])
        with contextlib.suppress(*REDIS_ERRORS):
            await self.state.deregister_worker(self.id)
        log.info("worker %s stopped after %d tasks", self.id, self.processed)

    async def _drain_runs(self) -> None:
        """Wait for runs to end; after a second signal, give stubborn ones a few seconds.

        A task that swallows CancelledError would otherwise hold the process forever. What
        is still running when we give up stays ``started`` in Redis; deregistration ends
        the lease at once, so the tasks are recovered rather than lost.
        """
        hard_deadline: float | None = None
        while True:
            pending = [r.atask for r in self.runs.values() if r.atask and not r.atask.done()]
            if not pending:
                return
            if self.hard_stop and hard_deadline is None:
                hard_deadline = time.monotonic() + HARD_STOP_GRACE_S
            if hard_deadline is not None and time.monotonic() >= hard_deadline:
                log.error("%d tasks ignored cancellation; leaving them to recovery", len(pending))
                return
            await asyncio.wait(pending, timeout=0.5)
            self._cancel_again()

    async def _register(self) -> None:
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
        self._connected_since = time.monotonic()

    async def _retrying(self, fn: Any) -> None:
        delay = 0.2
        while True:
            try:
                await fn()
                return
            except RETRIED as exc:
                log.warning("redis unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    # ------------------------------------------------------------ routing

    async def refresh_routing(self) -> None:
        """Re-read the role and queue configs (after a hint or a version change)."""
        version = await self.state.config_version()
        try:
            role = await self.state.get_role(self.settings.role)
            queues = role.queues
        except RoleNotFound:
            log.warning("role %r does not exist; idle until it is created", self.settings.role)
            role = Role(name=self.settings.role)
            queues = []
        configs = {q.name: q for q in await self.state.list_queues()}
        self.routing = Routing([q for q in queues if q in configs], configs, version)
        self.routing.strategy = role.strategy
        self.routing.weights = {q: role.weight(q) for q in self.routing.queues}
        self._credit.clear()
        self.blocked.clear()
        await self.state.redis.hset(
            self.state.keys.worker(self.id), "queues", json.dumps(self.routing.queues)
        )
        await self._poke()

    def _queue_running(self) -> Counter[str]:
        return Counter(run.queue for run in self.runs.values())

    def _eligible(self) -> list[str]:
        if self.stopping or len(self.runs) >= self.settings.concurrency:
            return []
        running = self._queue_running()
        now = time.monotonic()
        out = []
        for q in self.routing.queues:
            cfg = self.routing.configs.get(q)
            if cfg is None or cfg.paused or q in self.blocked:
                continue
            if cfg.max_concurrent is not None and running[q] >= cfg.max_concurrent:
                continue
            if self.not_before.get(q, 0.0) > now:
                continue
            out.append(q)
        return out

    async def _poke(self) -> None:
        """Tell the fetcher its set of eligible queues may have changed.

        A blocked fetcher is woken when that set changed, or when the free slots of a
        capped type changed since it began to wait: the claim sent ahead would skip a task
        of that type, and the doorbells of the capped types with room are part of the wait.
        """
        self._changed.set()
        stale = self._armed_known is not None and self._armed_known != self._claim_specs()
        if self._blocking_on is not None and (
            stale or set(self._eligible()) != set(self._blocking_on)
        ):
            with contextlib.suppress(*REDIS_ERRORS):
                await self.state.wake(self.wake_key)

    # ------------------------------------------------------------ fetching

    async def _fetch_loop(self) -> None:
        backoff = 0.2
        while not self.stopping:
            try:
                await self._fetch_once()
                backoff = 0.2
            except RETRIED as exc:
                log.warning("fetch: redis failed (%s); retrying in %.1fs", exc, backoff)
                self._blocking_on = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX_S)

    async def _fetch_once(self) -> None:
        eligible = self._eligible()
        if not eligible:
            self._changed.clear()
            timeout = self.settings.block_timeout
            waits = [t - time.monotonic() for t in self.not_before.values() if t > time.monotonic()]
            if waits:
                timeout = min(timeout, max(0.001, min(waits)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
            return
        eligible = self._in_turn(eligible)
        if eligible[0] in self.hot:
            # The last claim on the queue whose turn it is filled its request: more work
            # is likely waiting, so claim again without a round trip through the doorbell.
            # Only that queue: claiming every hot queue first let the one queue that got
            # the first claim keep the worker until it was empty.
            await self._claim(eligible[0])
            return
        timeout = self.settings.block_timeout
        waits = [t - time.monotonic() for t in self.not_before.values() if t > time.monotonic()]
        if waits:
            timeout = min(timeout, max(0.01, min(waits)))
        if len(eligible) == 1:
            # One queue to wait on: send its claim behind the blocking wait, so Redis runs
            # it the moment the doorbell rings (one round trip from submit to start).
            queue = eligible[0]
            free = self._free(queue)
            if free <= 0:
                return
            self._blocking_on = eligible
            known = self._armed_known = self._claim_specs()
            try:
                res = await self.state.wait_and_claim(
                    self.id,
                    queue,
                    free,
                    known,
                    self.wake_key,
                    timeout,
                    self.routing.version,
                    types=_capped_with_room(known),
                )
            finally:
                self._blocking_on = self._armed_known = None
            await self._took(queue, free, res)
            return
        self._blocking_on = eligible
        known = self._armed_known = self._claim_specs()
        try:
            rung = await self.state.wait_for_work(
                eligible, self.wake_key, timeout, _capped_with_room(known)
            )
        finally:
            self._blocking_on = self._armed_known = None
        if rung is not None:
            await self._claim(rung)
        else:
            # A timeout or a local wake: sweep every eligible queue, which also covers a
            # doorbell lost to a crash between its pop and the claim.
            for queue in self._eligible():
                await self._claim(queue)

    def _in_turn(self, eligible: list[str]) -> list[str]:
        """The eligible queues in the order this pass serves them, by the role's strategy.

        The first is claimed from when it is hot; the others' doorbells are waited on in
        this order (a blocking pop returns the first rung one), so the order is the
        strategy: ``strict`` keeps the role's order, so an earlier queue with work always
        comes first; ``weighted`` puts first the queue with the most credit (smooth
        weighted round robin, per start: see ``_share``); ``round_robin`` rotates one step
        per pass.
        """
        match self.routing.strategy:
            case QueueStrategy.STRICT:
                return eligible
            case QueueStrategy.WEIGHTED:
                weights = self.routing.weights
                # Ties go to the heavier queue, then to the role's order (a stable sort).
                return sorted(eligible, key=lambda q: (-self._credit[q], -weights.get(q, 1)))
        # One step of rotation per pass, so that every queue of the role comes first in
        # turn and no busy queue starves the ones after it.
        self._rotation = (self._rotation + 1) % len(eligible)
        return eligible[self._rotation :] + eligible[: self._rotation]

    def _share(self, served: str, started: int) -> None:
        """Smooth weighted round robin over starts: each start credits every eligible queue
        its weight and takes their total from the served queue, so the credits sum to
        zero, and a weight-3 queue is first (and served) 3 times as often as a weight-1
        one while both have work. A credit is capped at one full claim's worth, so a queue
        idle for long does not bank a burst."""
        weights = self.routing.weights
        eligible = self._eligible() or [served]
        total = sum(weights.get(q, 1) for q in eligible)
        for q in eligible:
            self._credit[q] += weights.get(q, 1) * started
        self._credit[served] -= total * started
        cap = total * self.settings.concurrency
        for q in eligible:
            self._credit[q] = min(self._credit[q], cap)

    def _claim_specs(self) -> dict[str, ClaimSpec]:
        """The claimable types with their free slots under each task's own cap."""
        running = Counter(run.config.key for run in self.runs.values())
        return {
            key: ClaimSpec(*spec, -1 if cap is None else max(0, cap - running[key]))
            for key, spec, cap in (
                (k, v, self.registry[k].max_concurrent) for k, v in self.type_specs.items()
            )
        }

    def _free(self, queue: str) -> int:
        """How many tasks of ``queue`` this worker may start now."""
        free = self.settings.concurrency - len(self.runs)
        cfg = self.routing.configs.get(queue)
        if cfg is not None and cfg.max_concurrent is not None:
            free = min(free, cfg.max_concurrent - self._queue_running()[queue])
        return free

    async def _claim(self, queue: str) -> None:
        if queue not in self._eligible():
            return
        free = self._free(queue)
        if free <= 0:
            return
        known = self._claim_specs()
        res = await self.state.claim(
            self.id, queue, free, known, config_version=self.routing.version
        )
        await self._took(queue, free, res)

    async def _took(self, queue: str, free: int, res: ClaimResult) -> None:
        """Act on a claim's answer: start its tasks, or learn why there were none.

        Nothing here holds a queue back for its capped types: a claim sent ahead that ran
        before a run of a capped type ended skipped that type, and rang its doorbell, which
        the next wait includes now that the type has room.
        """
        if res.status is ClaimStatus.OK and len(res.tasks) == free:
            self.hot.add(queue)
        else:
            self.hot.discard(queue)
        match res.status:
            case ClaimStatus.LIMITED:
                self.not_before[queue] = time.monotonic() + res.retry_after_ms / 1000
            case ClaimStatus.PAUSED | ClaimStatus.NOQUEUE | ClaimStatus.CONFIG:
                await self.refresh_routing()
            case ClaimStatus.DEAD:
                log.warning("lease lapsed; registering again")
                await self._register()
            case ClaimStatus.OK if self.stopping:
                # Claimed while the stop signal arrived: hand the tasks straight back.
                for claimed in res.tasks:
                    args = self.state.outcome_args(
                        claimed.id, claimed.run_id, RunOutcome.RESUBMITTED
                    )
                    await self._record(
                        Run(claimed, self.registry[f"{claimed.name}@{claimed.version}"], queue),
                        args,
                    )
            case ClaimStatus.OK:
                # Types at their cap stay waiting without holding the queue: the claim
                # rings their own doorbell, which this worker waits on again once it has
                # a free slot of the type (see `_capped_with_room`).
                if self.routing.strategy is QueueStrategy.WEIGHTED and res.tasks:
                    self._share(queue, len(res.tasks))  # before the runs fill the slots
                for claimed in res.tasks:
                    self._start(claimed, queue)
                if res.tasks:
                    # Let the new runs take their first step before this loop sends its
                    # next claim or blocking wait: a task starts one write sooner.
                    await asyncio.sleep(0)

    # ------------------------------------------------------------ running

    def _start(self, claimed: ClaimedTask, queue: str) -> None:
        cfg = self.registry[f"{claimed.name}@{claimed.version}"]
        run = Run(claimed, cfg, queue)
        self.runs[claimed.id] = run
        run.atask = asyncio.create_task(self._execute(run), name=f"task-{claimed.id}")

    def _stop_run(self, run: Run, reason: StopReason) -> None:
        if run.stop_reason is None or reason is StopReason.LOST:
            run.stop_reason = reason
        if run.atask is not None and not run.atask.done():
            run.atask.cancel()
        if run.thread_stop is not None:
            run.thread_stop.set()

    async def _beat_for(self, run: Run, progress: float | None, message: str | None) -> None:
        """A task's heartbeat. Redis trouble is logged, never raised into the task's code:
        the worker's lease covers the run meanwhile, and the cleaner gives the deadlines
        back the time an outage took."""
        try:
            answer = await self.state.task_heartbeat(
                run.claimed.id, run.claimed.run_id, progress, message
            )
        except RETRIED as exc:
            log.warning("task %s: heartbeat not recorded (%s)", run.claimed.id, exc)
            return
        if answer is not TaskBeatReply.OK:
            self._stop_run(run, StopReason(answer))

    async def _execute(self, run: Run) -> None:
        claimed = run.claimed
        ctx = RunContext(
            id=claimed.id,
            run_id=claimed.run_id,
            name=claimed.name,
            version=claimed.version,
            attempt=claimed.attempt,
            parameters=claimed.parameters,
            beat=lambda p, m: self._beat_for(run, p, m),
        )
        bind(ctx)
        hooks = for_task(run.config.hooks)
        try:
            if hooks:
                await self._record(run, await self._hooked_outcome(run, hooks))
            else:
                await self._record(run, await self._outcome(run))
        finally:
            # Only this run: the task may have been re-claimed, by this very worker, since
            # it was recovered from this run, and the new run must stay known.
            if self.runs.get(claimed.id) is run:
                del self.runs[claimed.id]
            self.processed += 1
            self.blocked.clear()
            if not self.stopping:
                with contextlib.suppress(*REDIS_ERRORS):
                    await self._poke()

    async def _outcome(self, run: Run) -> FinishArgs | None:
        """Run the task and say how it ended.

        Everything the task raises, or its result's encoding raises, is its outcome
        (RecursionError on a deeply nested result, a BaseException subclass, an exception
        whose ``__str__`` fails): only cancellation and a process exit pass through. A run
        that escaped here was re-queued by the heartbeat, uncapped, for ever.
        """
        claimed, cfg = run.claimed, run.config
        try:
            if claimed.has_parents:  # workflows: what its parents did, for task.parents
                ctx = current_task()
                ctx.parents, ctx.parent_results = decode_parents(claimed.parent_reads)
            coro: Awaitable[Any] = (
                cast(Awaitable[Any], cfg.function(**claimed.parameters))
                if cfg.is_async
                else self._in_thread(run)
            )
            result = await (asyncio.wait_for(coro, cfg.timeout) if cfg.timeout else coro)
        except asyncio.CancelledError:
            return self._interrupted(run)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            return self._failed_safely(run, exc)
        try:
            payload = encode_results(result)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            return self._failed_safely(run, exc, retryable=False)
        return self.state.outcome_args(claimed.id, claimed.run_id, RunOutcome.COMPLETED, payload)

    async def _in_thread(self, run: Run) -> Any:
        """Run a plain ``def`` task in the thread pool, leaving the event loop free.

        A thread cannot be killed: when the run is stopped (cancel, timeout, shutdown)
        its outcome is recorded at once, ``thread_stop`` is set so that the task's next
        ``task.heartbeat_sync()`` raises ``RunStopped``, and whatever the thread returns
        later is discarded (the run id fences it out in Redis too).
        """
        if self._threads is None:
            self._threads = DaemonThreadPool(self.settings.threads or self.settings.concurrency)
        stop = run.thread_stop = threading.Event()
        bind_thread(asyncio.get_running_loop(), stop)
        context = contextvars.copy_context()
        call = context.run
        future = self._threads.submit(call, _call_fenced, run, stop)
        try:
            return await asyncio.wrap_future(future)
        except BaseException:
            stop.set()
            raise

    async def _hooked_outcome(self, run: Run, hooks: tuple[Hook, ...]) -> FinishArgs | None:
        """``_outcome`` between the hooks' calls (``jobbers.hooks``), which never change it."""
        claimed = run.claimed
        headers: dict[str, str] = {}
        if any(hook.wants_headers for hook in hooks):
            try:
                headers = await self.state.task_headers(claimed.id)
            except RETRIED as exc:
                log.warning("task %s: headers not read (%s)", claimed.id, exc)
            except asyncio.CancelledError:
                return self._interrupted(run)
        info = RunInfo(
            claimed.id,
            claimed.run_id,
            claimed.name,
            claimed.version,
            run.queue,
            claimed.attempt,
            MappingProxyType(claimed.parameters),  # read-only: a hook cannot change the call
            headers,
        )
        call_hooks(hooks, "before_run", info)
        started = time.perf_counter()
        args = await self._outcome(run)
        duration = time.perf_counter() - started
        outcome = RunOutcome(args[2]) if args is not None else RunOutcome.LOST
        call_hooks(hooks, "after_run", info, outcome, run.error, duration)
        if args is not None and outcome is RunOutcome.RETRIED:
            delay_ms = int(args[3])
            delay = None if delay_ms < 0 else delay_ms / 1000
            call_hooks(hooks, "on_retry", info, run.error, delay)
        elif outcome is RunOutcome.FAILED:
            saved = run.config.dead_letter_policy == DeadLetterPolicy.SAVE
            call_hooks(hooks, "on_dead_letter", info, run.error, saved)
        return args

    def _failed_safely(self, run: Run, exc: BaseException, retryable: bool = True) -> FinishArgs:
        """``_failed``, or a plain failure when describing ``exc`` itself fails."""
        run.error = exc
        try:
            return self._failed(run, exc, retryable)
        except Exception as err:
            message = f"{type(exc).__name__} (it could not be described: {type(err).__name__})"
            entry = self._entry(run, "error", message)
            return self.state.outcome_args(
                run.claimed.id, run.claimed.run_id, RunOutcome.FAILED, "", entry
            )

    def _entry(
        self, run: Run, kind: str, message: str, exc: BaseException | None = None
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "attempt": run.claimed.attempt,
            "kind": kind,
            "message": message[:500],
            "worker_id": self.id,
        }
        if exc is not None:
            entry["exc_type"] = type(exc).__qualname__
            entry["traceback"] = "".join(traceback.format_exception(exc))[-8000:]
        return entry

    def _failed(self, run: Run, exc: BaseException, retryable: bool = True) -> FinishArgs:
        claimed, cfg = run.claimed, run.config
        is_timeout = isinstance(exc, TimeoutError) and cfg.timeout is not None
        text = f"timed out after {cfg.timeout}s" if is_timeout else str(exc)
        message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        entry = self._entry(run, "timeout" if is_timeout else "error", message, exc)
        if retryable and cfg.is_expected(exc) and claimed.attempt < cfg.max_retries:
            delay = cfg.retry_delay_for(claimed.attempt + 1)
            delay_ms = "-1" if delay is None else str(int(delay * 1000))
            return self.state.outcome_args(
                claimed.id, claimed.run_id, RunOutcome.RETRIED, delay_ms, entry
            )
        return self.state.outcome_args(claimed.id, claimed.run_id, RunOutcome.FAILED, "", entry)

    def _interrupted(self, run: Run) -> FinishArgs | None:
        tid, run_id = run.claimed.id, run.claimed.run_id
        match run.stop_reason:
            case StopReason.CANCELLED:
                entry = self._entry(run, "cancelled", "cancelled while running")
                return self.state.outcome_args(tid, run_id, RunOutcome.CANCELLED, "", entry)
            case StopReason.RESUBMITTED:
                entry = self._entry(run, "interrupted", "worker shut down; task resubmitted")
                cap = str(self.settings.max_recoveries)
                return self.state.outcome_args(tid, run_id, RunOutcome.RESUBMITTED, cap, entry)
            case StopReason.LOST:
                return None
            case _:
                entry = self._entry(
                    run, "stopped", "worker shut down while the task ran (policy STOP)"
                )
                return self.state.outcome_args(tid, run_id, RunOutcome.STOPPED, "", entry)

    async def _record(self, run: Run, args: FinishArgs | None) -> None:
        """Write an outcome, retrying through a Redis outage; a stale answer is final.

        An error reply that is not transient (``is_transient``) is the script refusing the
        outcome, and it would refuse it again every time: after MAX_REFUSALS the outcome
        becomes a plain failure that says so, and if even that is refused the run is left
        to the heartbeat's recovery (which is capped) instead of being retried for ever.
        """
        if args is None:
            return
        delay = 0.2
        refusals, fallback = 0, False
        while True:
            try:
                outcome: Outcome = await self.writer.write(args)
                if outcome.ok:
                    self._log_outcome(run, args, outcome.status)
                else:
                    log.info(
                        "task %s: run %s is stale (now %s); outcome dropped",
                        run.claimed.id,
                        run.claimed.run_id,
                        outcome.status,
                    )
                return
            except redis.exceptions.ResponseError as exc:
                if not is_transient(exc) and (refusals := refusals + 1) >= MAX_REFUSALS:
                    if fallback:
                        log.error("task %s: even a failure is refused (%s)", run.claimed.id, exc)
                        return  # the heartbeat recovers the run, under the recovery cap
                    log.error("task %s: %s outcome refused (%s)", run.claimed.id, args[2], exc)
                    message = f"the {args[2]} outcome could not be recorded: {exc}"
                    entry = self._entry(run, "error", message)
                    args = self.state.outcome_args(args[0], args[1], RunOutcome.FAILED, "", entry)
                    fallback, refusals = True, 0
                    continue
                if self.hard_stop:
                    return
                log.warning("task %s: cannot record outcome (%s); retrying", run.claimed.id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            except RETRIED as exc:
                if self.hard_stop:
                    log.error(
                        "task %s: outcome lost to redis outage at exit: %s", run.claimed.id, exc
                    )
                    return
                log.warning("task %s: cannot record outcome (%s); retrying", run.claimed.id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    def _log_outcome(self, run: Run, args: FinishArgs, status: str) -> None:
        """One INFO line per outcome, the story ``jobbers dev`` shows as tasks end."""
        if not outcomes_log.isEnabledFor(logging.INFO):
            return
        claimed, verb = run.claimed, args[2]
        error = json.loads(args[4]).get("message", "") if args[4] else ""
        what = status
        if status in ("submitted", "scheduled") and verb == RunOutcome.RETRIED:
            delay = int(args[3]) / 1000
            when = f"in {delay:g}s" if delay >= 0 else "at once"
            what = f"retried {when} (attempt {claimed.attempt + 1} failed: {error})"
        elif status == "submitted":
            what = "re-queued (worker stopping)"
        elif status == "failed":
            dlq = run.config.dead_letter_policy == DeadLetterPolicy.SAVE
            what = f"{'dead-lettered' if dlq else 'failed'}: {error}"
        elif status == "stalled":
            what = f"stalled: {error}"
        outcomes_log.info("task %s %s v%d %s", claimed.id, claimed.name, claimed.version, what)

    # ------------------------------------------------------------ heartbeat

    async def _beat_loop(self) -> None:
        beats = 0
        while True:
            try:
                await self.beat_once(reap=beats % 3 == 0)
            except RETRIED as exc:
                log.warning("heartbeat: redis unavailable (%s)", exc)
                self._connected_since = time.monotonic()
            except JobbersError as exc:
                log.error("heartbeat: %s", exc)
            beats += 1
            self._cancel_again()
            await asyncio.sleep(self.settings.beat_interval)

    def _cancel_again(self) -> None:
        """Cancel again the runs asked to stop that still run.

        On Python 3.11 ``asyncio.wait_for``, which redis-py sends every command through,
        drops a cancel that lands as its inner call completes (see ``stop_loops``): a task
        stopped while it awaited Redis would then run on (a ``sleep(3600)`` after it held
        a SIGTERMed worker's exit for ever). Asking again until the task ends is harmless.
        """
        for run in self.runs.values():
            if run.stop_reason is not None and run.atask is not None and not run.atask.done():
                run.atask.cancel()

    async def beat_once(self, reap: bool = True) -> None:
        """Renew the lease, stop lost runs, apply cancels, catch up on config, reap peers."""
        runs = [(r.claimed.id, r.claimed.run_id) for r in self.runs.values()]
        res = await self.state.worker_heartbeat(
            self.id, self.settings.lease_ms, runs, self.settings.max_recoveries
        )
        if res.reaped:
            log.warning("this worker was declared dead; its runs were recovered elsewhere")
            for run in list(self.runs.values()):
                self._stop_run(run, StopReason.LOST)
            await self._register()
            return
        for tid in res.stale:
            if tid in self.runs:
                self._stop_run(self.runs[tid], StopReason.LOST)
        for tid in res.cancels:
            if tid in self.runs:
                self._stop_run(self.runs[tid], StopReason.CANCELLED)
        if res.config_version != self.routing.version:
            await self.refresh_routing()
        # Recovering dead peers right after an outage would mistake every worker for
        # dead (their leases lapsed while Redis was away): wait one lease first.
        if reap and time.monotonic() - self._connected_since > self.settings.lease_ms / 1000:
            workers, requeued, stalled = await self.state.reap_dead_workers(
                self.settings.max_recoveries
            )
            if workers:
                log.warning(
                    "recovered %d dead workers: %d tasks re-queued, %d stalled",
                    workers,
                    requeued,
                    stalled,
                )

    # ------------------------------------------------------------ pub/sub hints

    async def _listen_loop(self) -> None:
        backoff = 0.2
        while True:
            pubsub = self.state.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.state.keys.events)
                # Anything published while we were away is caught up by the heartbeat.
                await self.refresh_routing()
                backoff = 0.2
                async for message in pubsub.listen():
                    await self._on_event(str(message.get("data", "")))
            except RETRIED as exc:
                log.warning("listener: redis unavailable (%s); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX_S)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _on_event(self, data: str) -> None:
        if data.startswith("cancel:"):
            run = self.runs.get(data[len("cancel:") :])
            if run is not None:
                self._stop_run(run, StopReason.CANCELLED)
        elif data == "config":
            await self.refresh_routing()
