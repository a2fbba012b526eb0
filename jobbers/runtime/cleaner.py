"""``jobbers_cleaner``: stalled tasks, dead workers and retention.

One pass marks ``stalled`` the started tasks whose heartbeat is overdue, recovers the
tasks of workers whose lease lapsed (workers do this for their peers too), and deletes
terminal tasks past their retention. Run it once from cron, or with ``--interval S``; the
loop also watches the workers' connections (``ConnectionWatch``) and recovers a worker
whose connections are all gone within about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import redis.exceptions

from jobbers.models.task import TaskStatus
from jobbers.runtime.backoff import RETRIED, is_transient
from jobbers.runtime.process import run_process, setup_logging, state_from_env
from jobbers.runtime.settings import CleanerEnv, process_parser, read_env
from jobbers.store.facade import StateManager

log = logging.getLogger("jobbers.runtime.cleaner")

# Tasks deleted per retention script call: a few milliseconds of Redis time.
RETENTION_BATCH = 500
_KEPT_BRIEFLY = (TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.DROPPED)
_KEPT_LONG = (TaskStatus.FAILED, TaskStatus.STALLED)


@dataclass
class CleanerSettings:
    """Retention and recovery limits; ``from_env`` reads JOBBERS_* variables."""

    max_recoveries: int = 3
    retention_s: float = 7 * 86400
    failed_retention_s: float = 30 * 86400
    lease_ms: int = 15_000  # the workers' lease: how long they may take to renew
    # Seconds one pass may spend deleting a retention backlog (batches repeat until then).
    retention_budget_s: float = 5.0
    # Seconds between looks at the workers' connections (``ConnectionWatch``; 0: off), and
    # how long after an outage, a restart or a failover it reaps nobody.
    conn_check_s: float = 0.5
    conn_grace_s: float = 10.0

    @classmethod
    def from_env(cls, env: CleanerEnv | None = None) -> CleanerSettings:
        """The settings ``CleanerEnv`` reads (``jobbers_cleaner --help`` lists them)."""
        env = env or CleanerEnv()
        return cls(**env.values_for(cls))


@dataclass
class PassReport:
    """What one cleaner pass did."""

    stalled: int = 0
    dead_workers: int = 0
    requeued: int = 0
    lost_stalled: int = 0
    deleted: int = 0


class ConnectionWatch:
    """Reaps a worker about a second after it dies, from Redis's own view of its connections.

    Why: a SIGKILLed worker's lease takes up to a whole lease (15 s) to lapse, but its
    sockets close at once and Redis knows it. Each worker names its connections and
    registers the name; each check is one CLIENT LIST (O(connections)) and one HMGET per
    registered worker. A worker is reaped once two consecutive checks found none of its
    connections (a reconnect takes milliseconds and the fetch lane holds one nearly all
    the time), and never within ``grace_s`` of an outage, a restart or a failover (every
    connection is new then, and workers reconnect on their own backoff). Reaping is
    ``reap.lua``'s, fenced and capped as for a lapsed lease. The lease stays the fallback
    for a process that hangs with its sockets open.
    """

    def __init__(self, state: StateManager, max_recoveries: int, grace_s: float) -> None:
        self.state = state
        self.max_recoveries = max_recoveries
        self.grace_s = grace_s
        self._server: str | None = None
        self._absent: dict[str, str] = {}
        self._quiet_until = time.monotonic() + grace_s

    def outage(self) -> None:
        """Redis was unreachable: start over, and wait out the grace."""
        self._absent = {}
        self._quiet_until = time.monotonic() + self.grace_s

    async def check(self) -> tuple[int, int, int]:
        """One look; reaps the workers absent twice running: (workers, requeued, stalled)."""
        scan = await self.state.scan_worker_connections()
        if scan.server != self._server:  # first look, a restart or a failover
            self._server = scan.server
            self.outage()
        confirmed = {w: s for w, s in scan.absent.items() if self._absent.get(w) == s}
        self._absent = scan.absent
        if not confirmed or time.monotonic() < self._quiet_until:
            return 0, 0, 0
        return await self.state.reap_disconnected_workers(confirmed, self.max_recoveries)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Check every ``interval`` seconds until ``stop``; survives Redis outages."""
        announced = False
        while not stop.is_set():
            try:
                workers, requeued, stalled = await self.check()
                if not announced:
                    log.info("connection watch on: a look every %.2fs", interval)
                    announced = True
                if workers:
                    log.warning(
                        "%d workers gone (no connection left): %d tasks re-queued, %d stalled",
                        workers,
                        requeued,
                        stalled,
                    )
            except redis.exceptions.ResponseError as exc:
                if not is_transient(exc):  # NOPERM, a renamed or disabled CLIENT command
                    log.error("connection watch off, the lease alone recovers workers: %s", exc)
                    return
                self.outage()
            except RETRIED as exc:
                log.debug("connection watch: redis unavailable (%s)", exc)
                self.outage()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


class Cleaner:
    """One pass, or a loop of passes."""

    def __init__(self, state: StateManager, settings: CleanerSettings | None = None) -> None:
        self.state = state
        self.settings = settings or CleanerSettings()
        self._stop = asyncio.Event()
        # When the stall pass last ran: after an outage, the heartbeat deadlines move later
        # by the time since then.
        self._stalls_checked = time.monotonic()

    def stop(self) -> None:
        """Exit after the current pass."""
        self._stop.set()

    async def run_once(
        self, reap: bool = True, postpone_ms: int = 0, max_gap_ms: int = 0
    ) -> PassReport:
        """One pass over stalls, dead workers and retention.

        ``postpone_ms`` (an outage this cleaner saw) and ``max_gap_ms`` (the longest
        expected gap between passes; longer is an outage seen on the Redis clock) move
        heartbeat deadlines later before any is judged: no task could beat meanwhile.
        """
        report = PassReport()
        report.stalled = await self.state.mark_stalled(
            postpone_ms=postpone_ms, max_gap_ms=max_gap_ms
        )
        self._stalls_checked = time.monotonic()
        if reap:
            w, r, s = await self.state.reap_dead_workers(self.settings.max_recoveries)
            report.dead_workers, report.requeued, report.lost_stalled = w, r, s
        report.deleted = await self.delete_expired()
        if report.stalled or report.dead_workers or report.deleted:
            log.info("%s", report)
        return report

    async def delete_expired(self) -> int:
        """Delete terminal tasks past their retention; returns how many.

        One batch per status per pass capped retention at ``RETENTION_BATCH`` tasks per
        status per interval (50/s at ``--interval 10``): any steady load above that grew
        Redis without bound. So batches repeat, a round over the statuses at a time (none
        starves another), while they come back full, until the pass's time budget is
        spent. Each batch is one short script call, so Redis serves others in between.
        """
        s = self.settings
        ages = dict.fromkeys(_KEPT_BRIEFLY, s.retention_s)
        ages |= dict.fromkeys(_KEPT_LONG, s.failed_retention_s)
        deadline = time.monotonic() + s.retention_budget_s
        deleted = 0
        behind = list(ages)
        while behind:
            full = []
            for status in behind:
                n = await self.state.apply_retention(status, ages[status], RETENTION_BATCH)
                deleted += n
                if n >= RETENTION_BATCH:
                    full.append(status)
            behind = full
            if time.monotonic() >= deadline:
                break
        return deleted

    async def run(self, interval: float) -> None:
        """Passes every ``interval`` seconds until stopped; survives Redis outages.

        The connection watch (``ConnectionWatch``) runs beside them, on its own interval.
        """
        # After an outage every lease looks lapsed. Redis came back at most one interval
        # after the last failed pass; workers renew within a third of their lease once it
        # is back. Reaping sooner would re-run the tasks of healthy workers.
        grace = interval + self.settings.lease_ms / 1000
        # Stalls get the same grace by other means: the first pass after an outage moves
        # every heartbeat deadline later by the time since the last stall pass, so a task
        # that was beating has as long to beat again as it had when Redis went away. An
        # outage this loop saw (errors) counts; so does one only the Redis clock shows (a
        # frozen Redis answers late, not with an error): a gap over ``grace``.
        self._stalls_checked = time.monotonic()
        max_gap_ms = round(grace * 1000)
        watch = None
        if self.settings.conn_check_s > 0:
            watcher = ConnectionWatch(
                self.state, self.settings.max_recoveries, self.settings.conn_grace_s
            )
            watch = asyncio.create_task(watcher.run(self.settings.conn_check_s, self._stop))
        try:
            await self._passes(interval, grace, max_gap_ms)
        finally:
            if watch is not None:
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch

    async def _passes(self, interval: float, grace: float, max_gap_ms: int) -> None:
        healthy_since = time.monotonic()
        away = False
        while not self._stop.is_set():
            postpone = round((time.monotonic() - self._stalls_checked) * 1000) if away else 0
            try:
                await self.run_once(
                    reap=time.monotonic() - healthy_since >= grace,
                    postpone_ms=postpone,
                    max_gap_ms=max_gap_ms,
                )
                away = False
            except RETRIED as exc:
                log.warning("redis unavailable (%s)", exc)
                healthy_since = time.monotonic()
                away = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``jobbers_cleaner``."""
    parser = process_parser(
        "jobbers_cleaner",
        "Mark stalled tasks, recover dead workers' tasks, apply retention.",
        CleanerEnv,
    )
    parser.add_argument("--interval", type=float, help="loop every S seconds (default: one pass)")
    args = parser.parse_args(argv)
    env = read_env(CleanerEnv, "jobbers_cleaner")
    setup_logging("cleaner", env)
    cleaner = Cleaner(state_from_env(env), CleanerSettings.from_env(env))
    if args.interval is None:

        async def once() -> None:
            print(await cleaner.run_once())  # noqa: T201

        run_process(once, cleaner.stop)
    else:
        run_process(lambda: cleaner.run(args.interval), cleaner.stop)


if __name__ == "__main__":
    main()
