"""``jobbers_scheduler``: promote due retries and delayed tasks onto their queues, and fire
due schedule ticks.

It sleeps (BZPOPMIN on its doorbell) until the next due time, and the doorbell, rung by
every newly scheduled retry, delayed submit and schedule change, wakes it early, so a task
due in 2 s starts within milliseconds of due without polling. Several schedulers may run at
once: promotion is one atomic script, and a schedule tick fires at most once (see
``jobbers.store.schedules``).
"""

from __future__ import annotations

import asyncio
import logging
import time

from jobbers.runtime.backoff import retry_redis
from jobbers.runtime.process import run_process, setup_logging, state_from_env
from jobbers.runtime.settings import SchedulerEnv, process_parser, read_env
from jobbers.store.facade import StateManager
from jobbers.store.schedules import FIRE_BATCH

log = logging.getLogger("jobbers.runtime.scheduler")
MAX_SLEEP = 5.0
# How much later than due the doorbell's own timeout ends a wait (see Scheduler._sleep).
WAKE_SLACK_S = 0.25
# A coming tick this near (ms) has its definitions parsed ahead (see Scheduler._warm): far
# enough to cover a whole sleep, not so near that the parsing itself makes the tick late.
WARM_AHEAD_MS = (100, round(2 * MAX_SLEEP * 1000))


def _paused(exc: BaseException, pause: float) -> None:
    log.warning("redis unavailable (%s); retrying in %.1fs", exc, pause)


class Scheduler:
    """The promotion loop."""

    def __init__(self, state: StateManager) -> None:
        self.state = state
        self._stop = asyncio.Event()
        # Monotonic time until which the coming tick's definitions are already parsed.
        self._warm_until = 0.0

    def stop(self) -> None:
        """Finish the current step and exit."""
        self._stop.set()

    async def step(self) -> float:
        """Promote every due task and fire every due schedule tick; returns seconds until
        the next of either is due (capped)."""
        while True:
            promoted, wait_ms = await self.state.promote_due(500)
            if promoted:
                log.info("promoted %d due tasks", promoted)
            if promoted < 500:
                break
        # Schedules (issue 15 §2): each due tick fired once, whichever scheduler gets it.
        rung = False
        while True:
            handled, sched_ms = await self.state.fire_due_schedules(FIRE_BATCH)
            if handled < FIRE_BATCH:
                break
            if not rung:
                # More are due than one batch: wake another scheduler to fire beside this
                # one (sched_due.lua spreads them over the due set); it wakes the next.
                await self.state.ring_scheduler()
                rung = True
        sched_ms = await self._warm(sched_ms)
        waits = [w for w in (wait_ms, sched_ms) if w >= 0]
        return MAX_SLEEP if not waits else min(MAX_SLEEP, min(waits) / 1000)

    async def _warm(self, sched_ms: int) -> int:
        """Parse the definitions of the coming ticks while there is time, once per tick: a
        thousand schedules due in one second otherwise cost their parsing after the tick.
        Returns ``sched_ms`` less the time the parsing took, so the sleep still ends on the
        tick."""
        low, high = WARM_AHEAD_MS
        if not (low <= sched_ms <= high and time.monotonic() >= self._warm_until):
            return sched_ms
        start = time.monotonic()
        self._warm_until = start + sched_ms / 1000
        if await self.state.warm_schedules() > FIRE_BATCH:
            # Peers fire such a burst beside this one (see step): wake one to parse it too;
            # it wakes the next, until one that has already parsed it stops the chain.
            await self.state.ring_scheduler()
        return max(0, sched_ms - round((time.monotonic() - start) * 1000))

    async def _sleep(self, wait: float) -> None:
        """Block on the doorbell until it rings or ``wait`` seconds pass, whichever first.

        Redis expires a blocking command's timeout only on its own timer tick (``hz``: every
        100 ms by default) when nothing else happens, so a timeout alone wakes up to 100 ms
        late on an idle server. A local timer of the same length (a duration read off the
        Redis clock, so no host clock decides it) rings the doorbell at the due time; the
        BZPOPMIN returns at once. Its own timeout, a little longer, is the backstop.
        """
        waiter = asyncio.create_task(self.state.wait_for_schedule(wait + WAKE_SLACK_S))
        timer = asyncio.create_task(asyncio.sleep(wait))
        stopper = asyncio.create_task(self._stop.wait())
        done, _ = await asyncio.wait({waiter, timer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if timer in done and not waiter.done():
            await self.state.ring_scheduler()
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for t in (waiter, timer, stopper):
            t.cancel()
        await asyncio.gather(waiter, timer, stopper, return_exceptions=True)

    async def run(self) -> None:
        """Promote until stopped, waking at each due time or new retry."""
        while not self._stop.is_set():
            await retry_redis(self._step_and_sleep, _paused)

    async def _step_and_sleep(self) -> None:
        wait = await self.step()
        if wait > 0:
            await self._sleep(wait)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``jobbers_scheduler``."""
    process_parser(
        "jobbers_scheduler", "Promote due tasks and fire schedules.", SchedulerEnv
    ).parse_args(argv)
    env = read_env(SchedulerEnv, "jobbers_scheduler")
    setup_logging("scheduler", env)
    scheduler = Scheduler(state_from_env(env))
    run_process(scheduler.run, scheduler.stop)


if __name__ == "__main__":
    main()
