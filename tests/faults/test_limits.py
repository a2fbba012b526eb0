"""A rate-limited, concurrency-capped queue under ten worker processes and a backlog.

The ``tally`` task records its own start and end (host clock, in another Redis DB), so the
limits are checked against what ran, not against what jobbers says it did. The ten workers
start once for the module (they take seconds to start on two cores); the tests here use
their own StateManager and never flush the DB under them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis import Redis as SyncRedis

from jobbers.models.queue import QueueConfig, RatePeriod, Role
from jobbers.models.task import Task
from jobbers.store.facade import StateManager
from tests.conftest import eventually
from tests.procs import Procs, blocking_waits, figure, fresh_counts, live_workers

WORKERS = 10
SLOTS = 10  # per worker: more than the queue's cap, so the cap is what binds
CAP = 2  # the queue's max_concurrent, per worker
RATE = 10  # starts per window, across all workers
WINDOW_S = 1.0
BACKLOG = 50
RUN_S = 2.5  # 20 slots / 2.5 s = 8 starts/s: the cap binds, and the rate in the first burst
QUEUE = "throttled"


def limited(rate: int, per_s: int, cap: int | None = CAP) -> QueueConfig:
    """The queue's config: ``rate`` starts per ``per_s`` seconds, ``cap`` runs per worker."""
    return QueueConfig(
        name=QUEUE,
        max_concurrent=cap,
        rate_numerator=rate,
        rate_denominator=per_s,
        rate_period=RatePeriod.SECOND,
    )


@pytest.fixture(scope="module")
def fleet(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Procs]:
    """Ten workers of a role over the throttled queue, for the whole module."""

    async def configure() -> None:
        state = StateManager.from_url(redis_url)
        try:
            await state.ensure_defaults()
            await state.create_queue(limited(RATE, int(WINDOW_S)))
            await state.create_role(Role(name="limits", queues=[QUEUE]))
        finally:
            await state.close()

    admin = SyncRedis.from_url(redis_url)
    admin.flushdb()
    admin.close()
    asyncio.run(configure())
    procs = Procs(redis_url, tmp_path_factory.mktemp("fleet"))
    for _ in range(WORKERS):
        procs.worker(role="limits", concurrency=SLOTS)
    yield procs
    procs.close()


@pytest.fixture
async def live(fleet: Procs, redis_url: str) -> AsyncIterator[StateManager]:
    """A StateManager on the fleet's DB (not flushed), once every worker is registered."""
    state = StateManager.from_url(redis_url)
    await live_workers(state, WORKERS)
    yield state
    await state.close()


@pytest.fixture
async def counts(redis_url: str) -> AsyncIterator[Any]:
    """The count DB of the ``tally`` task, emptied."""
    client = await fresh_counts(redis_url)
    yield client
    await client.aclose()


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one instant (an end at t closes before a start at t opens)."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def max_in_window(starts: list[float], window: float) -> int:
    """The most starts in any half-open window [t, t + window)."""
    starts = sorted(starts)
    peak = j = 0
    for i, t in enumerate(starts):
        while starts[j] <= t - window:
            j += 1
        peak = max(peak, i - j + 1)
    return peak


async def test_rate_and_concurrency_limits_hold_at_every_instant(
    live: StateManager, counts: Any
) -> None:
    state = live
    ids = [
        str(
            (
                await state.submit_task(
                    Task(
                        name="tally",
                        queue=QUEUE,
                        parameters={"mark": i, "seconds": RUN_S, "spans": "limits"},
                    )
                )
            ).id
        )
        for i in range(BACKLOG)
    ]

    async def all_done() -> bool:
        return await state.redis.zcard(state.keys.status_index("completed", QUEUE)) == BACKLOG

    await eventually(all_done, within=60, interval=0.2, what="the backlog drained")
    runs = await counts.hgetall("runs")
    assert runs == {str(i): "1" for i in range(BACKLOG)}

    spans: dict[str, tuple[int, float, float]] = {}
    for line in await counts.lrange("spans:limits", 0, -1):
        pid, start, end, tid = line.split()
        spans[tid] = (int(pid), float(start), float(end))
    assert set(spans) == set(ids)

    # Concurrency: the queue's cap holds in every worker at every instant (a recorded span
    # lies inside the slot the run held, so recorded overlap <= real overlap).
    per_worker: dict[int, list[tuple[float, float]]] = {}
    for pid, start, end in spans.values():
        per_worker.setdefault(pid, []).append((start, end))
    peaks = {pid: max_overlap(s) for pid, s in per_worker.items()}
    assert max(peaks.values()) == CAP, peaks  # reached, never passed
    overall = max_overlap([(s, e) for _, s, e in spans.values()])
    assert overall <= WORKERS * CAP

    # Rate: at most RATE starts in any window, across workers. Jobbers' own start times
    # (Redis clock, at the claim) must obey it exactly; the tasks' own records, taken up
    # to `lag` later, must obey it over a window shortened by that lag.
    claimed = {
        str(t.id): t.started_at.timestamp() for t in await state.get_tasks(ids) if t.started_at
    }
    lag = max(spans[tid][1] - at for tid, at in claimed.items())
    assert -0.01 <= lag < 0.5, lag
    by_claim = max_in_window(list(claimed.values()), WINDOW_S)
    by_task = max_in_window([start for _, start, _ in spans.values()], WINDOW_S - lag)
    assert by_claim == RATE, by_claim  # reached in the first burst, never passed
    assert by_task <= RATE, by_task
    figure(f"limits: busiest worker's peak running (queue cap {CAP})", max(peaks.values()), "")
    figure(f"limits: peak running overall ({WORKERS} workers x cap {CAP})", overall, "")
    figure(f"limits: most claims in any {WINDOW_S:g} s window (limit {RATE})", by_claim, "")
    figure(f"limits: most task-clock starts in any {WINDOW_S - lag:.3f} s window", by_task, "")
    figure("limits: claim -> task start lag, worst", lag)


QUIET_S = 5.0
QUIET_RATE_EVERY_S = 2  # one start per 2 s: the window reopens about twice while we watch
BEAT_S = 0.5  # tests.procs.FAST: a 1.5 s lease, renewed every third of it


async def commandstats(state: StateManager) -> dict[str, int]:
    """Calls per command since the server started (``INFO commandstats``)."""
    info = await state.redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in info.items()}


async def test_limited_workers_do_not_poll_redis_while_they_wait(
    live: StateManager, counts: Any, fleet: Procs
) -> None:
    state = live
    await state.put_queue(limited(1, QUIET_RATE_EVERY_S))
    try:
        submitted = time.monotonic()
        for i in range(30):
            await state.submit_task(Task(name="tally", queue=QUEUE, parameters={"mark": i}))

        async def all_waiting() -> bool:
            # One task ran and the window closed behind it; every worker has left the
            # queue out of its wait: nothing runs, nobody blocks on the doorbell.
            running = await state.redis.zcard(state.keys.status_index("started", QUEUE))
            waits = await blocking_waits(state)
            return bool(await counts.hlen("runs")) and not running and not waits

        await eventually(all_waiting, within=10, what="every worker waiting out the window")
        before = await commandstats(state)
        started = int(await counts.hlen("runs"))
        t0 = time.monotonic()
        await asyncio.sleep(QUIET_S)  # not synchronisation: the stretch being measured
        after = await commandstats(state)
        quiet = time.monotonic() - t0
        total_runs = int(await counts.hlen("runs"))
        ran = total_runs - started
        # The limit held from the first submit on: one start per window, plus the first.
        assert total_runs <= (time.monotonic() - submitted) / QUIET_RATE_EVERY_S + 1
    finally:
        await state.purge_queue(QUEUE)
        await state.put_queue(limited(RATE, int(WINDOW_S)))

    calls = {cmd: after.get(cmd, 0) - before.get(cmd, 0) for cmd in after}
    calls["info"] -= 1  # our own second INFO
    # Per worker: one lease renewal per beat and a peer reap every third beat, one claim
    # (and one doorbell pop) per window reopening and block timeout, plus the one claim
    # and outcome of each task that did start. Busy polling would be thousands.
    beats = WORKERS * (quiet / BEAT_S + 1) * 4 / 3
    wakeups = WORKERS * (quiet / QUIET_RATE_EVERY_S + 2)
    bound = int(beats + wakeups + 2 * ran)
    assert calls.get("evalsha", 0) <= bound, (calls, bound)
    assert calls.get("bzpopmin", 0) <= wakeups, (calls, wakeups)
    assert 1 <= ran <= quiet / QUIET_RATE_EVERY_S + 1, ran  # the limit held while we watched
    figure(
        f"idle under a rate limit, {WORKERS} workers: EVALSHA/s (bound {bound / quiet:.1f})",
        calls.get("evalsha", 0) / quiet,
        "/s",
    )
    figure(
        f"idle under a rate limit: BZPOPMIN/s (bound {wakeups / quiet:.1f})",
        calls.get("bzpopmin", 0) / quiet,
        "/s",
    )
    figure(
        "idle under a rate limit: commands/s, script internals included",
        sum(calls.values()) / quiet,
        "/s",
    )
    assert "Traceback" not in fleet.logs()
