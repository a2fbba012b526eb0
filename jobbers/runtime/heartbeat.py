"""The worker's heartbeats and its listener.

* the worker's lease beat renews its lease, learns about lost runs and durable cancel
  requests, catches up on missed config changes, and recovers dead peers;
* each task's own heartbeat (``task.heartbeat()``) is recorded here, and may stop its run;
* the listener applies pub/sub hints (cancel, config) at once;
* the ``Watchdog`` ends a process whose event loop stopped turning, which a lease beat
  alone cannot notice from inside.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from jobbers.errors import JobbersError
from jobbers.runtime.backoff import RETRIED, RETRY_FIRST_S, retry_redis
from jobbers.runtime.runner import Run
from jobbers.store.protocol import StopReason, TaskBeatReply

if TYPE_CHECKING:
    from jobbers.runtime.worker import Worker

log = logging.getLogger("jobbers.runtime.worker")  # the worker's logger, as before the split
# The exit status of a worker whose watchdog found its event loop blocked (EX_SOFTWARE).
WATCHDOG_EXIT = 70


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


class Heartbeat:
    """A worker's lease beat, its tasks' heartbeats and its pub/sub listener."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.state = worker.state
        self.settings = worker.settings

    async def beat_for(self, run: Run, progress: float | None, message: str | None) -> None:
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
            self.worker.runner.stop_run(run, StopReason(answer))

    async def run(self) -> None:
        """Beat a third of a lease apart until cancelled; Redis trouble skips a beat."""
        beats = 0
        while True:
            try:
                await self.beat_once(reap=beats % 3 == 0)
            except RETRIED as exc:
                log.warning("heartbeat: redis unavailable (%s)", exc)
                self.worker.connected_since = time.monotonic()
            except JobbersError as exc:
                log.error("heartbeat: %s", exc)
            beats += 1
            self.worker.runner.cancel_again()
            await asyncio.sleep(self.settings.beat_interval)

    async def beat_once(self, reap: bool = True) -> None:
        """Renew the lease, stop lost runs, apply cancels, catch up on config, reap peers."""
        runs = [(r.claimed.id, r.claimed.run_id) for r in self.worker.runs.values()]
        res = await self.state.worker_heartbeat(
            self.worker.id, self.settings.lease_ms, runs, self.settings.max_recoveries
        )
        if res.reaped:
            log.warning("this worker was declared dead; its runs were recovered elsewhere")
            for run in list(self.worker.runs.values()):
                self.worker.runner.stop_run(run, StopReason.LOST)
            await self.worker.register()
            return
        for tid in res.stale:
            if tid in self.worker.runs:
                self.worker.runner.stop_run(self.worker.runs[tid], StopReason.LOST)
        for tid in res.cancels:
            if tid in self.worker.runs:
                self.worker.runner.stop_run(self.worker.runs[tid], StopReason.CANCELLED)
        if res.config_version != self.worker.fetcher.routing.version:
            await self.worker.fetcher.refresh_routing()
        # Recovering dead peers right after an outage would mistake every worker for
        # dead (their leases lapsed while Redis was away): wait one lease first.
        if reap and time.monotonic() - self.worker.connected_since > self.settings.lease_ms / 1000:
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

    async def listen(self) -> None:
        """Apply pub/sub hints as they come, subscribing again after each lost connection."""
        while True:
            await retry_redis(self._listen_until_lost, self._reconnecting)

    async def _listen_until_lost(self) -> None:
        async with self.state.hint_listener() as hints:
            # Anything published while we were away is caught up by the heartbeat.
            await self.worker.fetcher.refresh_routing()
            try:
                async for data in hints:
                    await self._on_event(data)
            except RETRIED as exc:
                # Lost after it had subscribed: the pauses start again from the first.
                self._reconnecting(exc, RETRY_FIRST_S)
                await asyncio.sleep(RETRY_FIRST_S)

    def _reconnecting(self, exc: BaseException, _: float) -> None:
        log.warning("listener: redis unavailable (%s); reconnecting", exc)

    async def _on_event(self, data: str) -> None:
        if data.startswith("cancel:"):
            run = self.worker.runs.get(data[len("cancel:") :])
            if run is not None:
                self.worker.runner.stop_run(run, StopReason.CANCELLED)
        elif data == "config":
            await self.worker.fetcher.refresh_routing()
