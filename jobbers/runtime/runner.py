"""The worker's runner: runs a claimed task, encodes how it ended, and records that.

Every outcome goes through ``OutcomeWriter``, which batches the outcomes that land in one
event-loop tick into one script call (``jobbers.store.coalesce``); ``Runner.record``
retries through an outage (``retry_redis``) and turns an outcome the script keeps refusing
into a plain failure. The shutdown policies decide how a stopped run ends
(``Runner._interrupted``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import threading
import time
import traceback
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

import redis.exceptions

from jobbers.context import RunContext, bind, bind_thread, current_task
from jobbers.hooks import Hook, RunInfo, RunOutcome, for_task
from jobbers.hooks import call as call_hooks
from jobbers.models.document import check_document
from jobbers.models.task_config import DeadLetterPolicy, TaskConfig
from jobbers.runtime.backoff import REDIS_ERRORS, RETRIED, is_transient, retry_redis
from jobbers.runtime.threads import DaemonThreadPool
from jobbers.store.coalesce import Coalescer
from jobbers.store.facade import StateManager
from jobbers.store.protocol import ClaimedTask, Outcome, StopReason
from jobbers.store.runs import FinishArgs
from jobbers.store.workflows import decode_parents

if TYPE_CHECKING:
    from jobbers.runtime.worker import Worker

log = logging.getLogger("jobbers.runtime.worker")  # the worker's logger, as before the split
outcomes_log = logging.getLogger("jobbers.runtime.worker.outcomes")  # one line per task outcome

HARD_STOP_GRACE_S = 5.0
MAX_RESULT_BYTES = 1024 * 1024


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


# How often one outcome may meet the same refusal before it is recorded as a failure.
MAX_REFUSALS = 3


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


# Outcomes per script call: a few milliseconds of Redis time.
OUTCOME_BATCH = 200


class OutcomeWriter:
    """Batches the outcomes that land in one event-loop tick into one script call.

    Under load many runs end together; writing them in one round trip instead of one
    each is most of the difference between a fast and a slow drain. The batching is the
    submit path's group commit (``Coalescer``), lingering one tick for company.
    """

    def __init__(self, state: StateManager) -> None:
        self.state = state
        self._batches: Coalescer[FinishArgs, Outcome] = Coalescer(
            self._finish, OUTCOME_BATCH, linger=True
        )

    def write(self, args: FinishArgs) -> Awaitable[Outcome]:
        """Queue one outcome; await the answer (or the Redis error). Not a coroutine of its
        own: one frame less per task on the drain's hot path."""
        return self._batches.call(args)

    async def _finish(self, batch: Sequence[FinishArgs]) -> list[Outcome | BaseException]:
        try:
            return list(await self.state.finish_many(list(batch)))
        except redis.exceptions.ResponseError as exc:
            if len(batch) > 1 and not is_transient(exc):
                # The script refused the batch: write each outcome alone, so one bad
                # outcome cannot hold back the others.
                return await self._one_by_one(batch)
            raise

    async def _one_by_one(self, batch: Sequence[FinishArgs]) -> list[Outcome | BaseException]:
        results: list[Outcome | BaseException] = []
        for args in batch:
            try:
                [result] = await self.state.finish_many([args])
            except Exception as exc:
                results.append(exc)
                continue
            results.append(result)
        return results


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


class Runner:
    """Runs a worker's claimed tasks, each in an asyncio task of its own, and records them."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.state = worker.state
        self.settings = worker.settings
        self.runs: dict[str, Run] = {}
        self.writer = OutcomeWriter(worker.state)
        self.processed = 0
        self._threads: DaemonThreadPool | None = None  # made on the first ``def`` task

    async def drain(self) -> None:
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
            if self.worker.hard_stop and hard_deadline is None:
                hard_deadline = time.monotonic() + HARD_STOP_GRACE_S
            if hard_deadline is not None and time.monotonic() >= hard_deadline:
                log.error("%d tasks ignored cancellation; leaving them to recovery", len(pending))
                return
            await asyncio.wait(pending, timeout=0.5)
            self.cancel_again()

    def stop_threads(self) -> None:
        """Let the idle ``def`` task threads end; a blocked one dies with the process."""
        if self._threads is not None:
            self._threads.shutdown()

    def start(self, claimed: ClaimedTask, queue: str) -> None:
        """Run a claimed task of ``queue`` in an asyncio task of its own."""
        cfg = self.worker.registry[f"{claimed.name}@{claimed.version}"]
        run = Run(claimed, cfg, queue)
        self.runs[claimed.id] = run
        run.atask = asyncio.create_task(self._execute(run), name=f"task-{claimed.id}")

    def stop_run(self, run: Run, reason: StopReason) -> None:
        """Stop a run for ``reason``; ``_interrupted`` says how it then ends.

        A lost run (recovered elsewhere) records nothing, whatever else it was stopped for.
        """
        if run.stop_reason is None or reason is StopReason.LOST:
            run.stop_reason = reason
        if run.atask is not None and not run.atask.done():
            run.atask.cancel()
        if run.thread_stop is not None:
            run.thread_stop.set()

    async def _execute(self, run: Run) -> None:
        claimed = run.claimed
        ctx = RunContext(
            id=claimed.id,
            run_id=claimed.run_id,
            name=claimed.name,
            version=claimed.version,
            attempt=claimed.attempt,
            parameters=claimed.parameters,
            beat=lambda p, m: self.worker.heartbeat.beat_for(run, p, m),
        )
        bind(ctx)
        hooks = for_task(run.config.hooks)
        try:
            if hooks:
                await self.record(run, await self._hooked_outcome(run, hooks))
            else:
                await self.record(run, await self._outcome(run))
        finally:
            # Only this run: the task may have been re-claimed, by this very worker, since
            # it was recovered from this run, and the new run must stay known.
            if self.runs.get(claimed.id) is run:
                del self.runs[claimed.id]
            self.processed += 1
            self.worker.fetcher.blocked.clear()
            if not self.worker.stopping:
                with contextlib.suppress(*REDIS_ERRORS):
                    await self.worker.fetcher.poke()

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
            "worker_id": self.worker.id,
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

    async def record(self, run: Run, args: FinishArgs | None) -> None:
        """Write an outcome, retrying through a Redis outage; a stale answer is final.

        An error reply that is not transient (``is_transient``) is the script refusing the
        outcome, and it would refuse it again every time: after MAX_REFUSALS the outcome
        becomes a plain failure that says so, and if even that is refused the run is left
        to the heartbeat's recovery (which is capped) instead of being retried for ever.
        """
        if args is None:
            return
        # Nearly every outcome is written at the first try: that path pays for no closure
        # and no retry frame (a few microseconds per task in a drain).
        try:
            outcome: Outcome | None = await self.writer.write(args)
        except Exception as exc:
            await self._record_retrying(run, args, exc)
            return
        self._report(run, args, outcome)

    async def _record_retrying(self, run: Run, args: FinishArgs, first: Exception) -> None:
        """``record`` after its first try failed with ``first``: the retries and refusals."""
        claimed = run.claimed
        refusals, fallback = 0, False
        failed: Exception | None = first

        async def write() -> Outcome | None:
            nonlocal args, refusals, fallback, failed
            try:
                if failed is not None:  # the first try's error, counted as the first attempt
                    error, failed = failed, None
                    raise error
                return await self.writer.write(args)
            except redis.exceptions.ResponseError as exc:
                if is_transient(exc) or (refusals := refusals + 1) < MAX_REFUSALS:
                    raise
                if fallback:
                    log.error("task %s: even a failure is refused (%s)", claimed.id, exc)
                    return None  # the heartbeat recovers the run, under the recovery cap
                log.error("task %s: %s outcome refused (%s)", claimed.id, args[2], exc)
                message = f"the {args[2]} outcome could not be recorded: {exc}"
                entry = self._entry(run, "error", message)
                args = self.state.outcome_args(args[0], args[1], RunOutcome.FAILED, "", entry)
                fallback, refusals = True, 0
                return await write()

        def paused(exc: BaseException, _: float) -> None:
            log.warning("task %s: cannot record outcome (%s); retrying", claimed.id, exc)

        try:
            outcome = await retry_redis(write, paused, stop_if=lambda: self.worker.hard_stop)
        except RETRIED as exc:  # at a hard stop: no more retries
            if not isinstance(exc, redis.exceptions.ResponseError):
                log.error("task %s: outcome lost to redis outage at exit: %s", claimed.id, exc)
            return
        self._report(run, args, outcome)

    def _report(self, run: Run, args: FinishArgs, outcome: Outcome | None) -> None:
        """Log what became of a written outcome (None: left to the heartbeat's recovery)."""
        if outcome is None:
            return
        if outcome.ok:
            self._log_outcome(run, args, outcome.status)
        else:
            log.info(
                "task %s: run %s is stale (now %s); outcome dropped",
                run.claimed.id,
                run.claimed.run_id,
                outcome.status,
            )

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

    def cancel_again(self) -> None:
        """Cancel again the runs asked to stop that still run.

        On Python 3.11 ``asyncio.wait_for``, which redis-py sends every command through,
        drops a cancel that lands as its inner call completes (see ``stop_loops``): a task
        stopped while it awaited Redis would then run on (a ``sleep(3600)`` after it held
        a SIGTERMed worker's exit for ever). Asking again until the task ends is harmless.
        """
        for run in self.runs.values():
            if run.stop_reason is not None and run.atask is not None and not run.atask.done():
                run.atask.cancel()
