"""Delayed tasks and schedules (issue 15): how late after its due time work starts.

* ``delayed``: one ``bench_stamp`` task at a time, submitted with a delay to an idle
  system (one worker, one ``jobbers_scheduler``); lateness = the task body's first clock
  read minus its due time (``scheduled_for``, the Redis clock; same machine, same clock).
  Target: p99 <= 50 ms.
* ``fire``: 1,000 schedules whose next tick is the same second, three ``jobbers_scheduler``
  processes; fire delay = the fired task's ``submitted_at`` (written by the firing script)
  minus the tick. Target: p99 <= 100 ms. The ticks are set straight into ``sched:next``
  (creating 1,000 schedules through the API takes longer than the wait), and the doorbell
  is rung as a schedule change rings it.

Each next to its floor, measured in the same run on the same Redis: a bare redis-py timer
(``ZADD`` the due time, ``BZPOPMIN`` the doorbell with a timeout to the earliest due time,
``ZPOPMIN`` what is due and ``RPUSH`` it as a task), three of them for ``fire``.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
from typing import Any, cast

from redis.asyncio import Redis

from jobbers.models.schedule import Schedule
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager

from .common import ROOT, percentile, spawn_worker, stop

FLOOR_DUE, FLOOR_BELL, FLOOR_OUT = "floor:timer:due", "floor:timer:bell", "floor:timer:out"


def _summary(late_ms: list[float]) -> dict[str, Any]:
    return {
        "p50_ms": percentile(late_ms, 50),
        "p99_ms": percentile(late_ms, 99),
        "max_ms": max(late_ms),
        "samples": len(late_ms),
    }


def spawn_scheduler(url: str) -> subprocess.Popen[bytes]:
    """One ``jobbers_scheduler`` process, as production starts it."""
    import os

    env = {**os.environ, "REDIS_URL": url, "JOBBERS_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "-m", "jobbers.runtime.scheduler"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )


async def _redis_ms(client: Redis) -> int:
    sec, usec = await client.time()
    return int(sec) * 1000 + int(usec) // 1000


async def floor_timer(url: str, stop_at: asyncio.Event) -> None:
    """The floor: a bare ZADD/BZPOPMIN timer that moves due members to a list, stamping the
    time it moved each (``member|moved_ns``)."""
    client = Redis.from_url(url, decode_responses=True)
    ringer = Redis.from_url(url, decode_responses=True)
    try:
        while not stop_at.is_set():
            head = cast(
                list[tuple[str, float]], await client.zrange(FLOOR_DUE, 0, 0, withscores=True)
            )
            now = await _redis_ms(client)
            if head and head[0][1] <= now:
                popped = cast(list[tuple[str, float]], await client.zpopmin(FLOOR_DUE, 100))
                due = [m for m, score in popped if score <= now]
                later = {m: score for m, score in popped if score > now}
                if later:
                    await client.zadd(FLOOR_DUE, later)
                if due:
                    moved = time.time_ns()
                    await client.rpush(FLOOR_OUT, *(f"{m}|{moved}" for m in due))
                continue
            wait = 1.0 if not head else max(0.001, (head[0][1] - now) / 1000)
            # As jobbers_scheduler does: a local timer rings the bell at the due time, for
            # Redis ends a blocking timeout only on its own 100 ms tick when idle.
            blocked: asyncio.Task[Any] = asyncio.ensure_future(
                client.bzpopmin([FLOOR_BELL], timeout=wait + 0.25)
            )
            timer = asyncio.create_task(asyncio.sleep(wait))
            await asyncio.wait({blocked, timer}, return_when=asyncio.FIRST_COMPLETED)
            if not blocked.done():
                await ringer.zadd(FLOOR_BELL, {"r": 0})
            await blocked
            timer.cancel()
    finally:
        await client.aclose()
        await ringer.aclose()


async def _floor_delayed(client: Redis, delay_ms: int) -> float:
    due = await _redis_ms(client) + delay_ms
    await client.zadd(FLOOR_DUE, {str(due): due})
    await client.zadd(FLOOR_BELL, {"r": 0})
    popped = cast(list[str] | None, await client.blpop([FLOOR_OUT], 30))
    if popped is None:
        raise SystemExit("bench: the floor timer did not fire in 30 s")
    member, moved = popped[1].split("|")
    return int(moved) / 1e6 - int(member)


async def _jobbers_delayed(state: StateManager, delay_ms: int) -> float:
    stored, _ = await state.submit(Task(name="bench_stamp"), delay=delay_ms / 1000)
    assert stored.scheduled_for is not None
    key = state.keys.task(str(stored.id))
    deadline = time.monotonic() + 30
    while await state.redis.hget(key, "status") != TaskStatus.COMPLETED:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: delayed task {stored.id} did not complete in 30 s")
        await asyncio.sleep(0.005)
    done = await state.get_task(stored.id)
    assert done.results is not None
    return int(done.results["t"]) / 1e6 - stored.scheduled_for.timestamp() * 1000


async def _delayed(url: str, samples: int) -> dict[str, dict[str, Any]]:
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    client = Redis.from_url(url, decode_responses=True)
    stop_floor = asyncio.Event()
    timer = asyncio.create_task(floor_timer(url, stop_floor))
    ours: list[float] = []
    base: list[float] = []
    try:
        for i in range(samples + 3):
            delay = random.randint(100, 300)
            f = await _floor_delayed(client, delay)
            j = await _jobbers_delayed(state, delay)
            if i >= 3:  # warm-up
                base.append(f)
                ours.append(j)
    finally:
        stop_floor.set()
        await client.zadd(FLOOR_BELL, {"r": 0})
        await timer
        await client.aclose()
        await state.close()
    return {"floor": _summary(base), "jobbers": _summary(ours)}


def delayed(url: str, samples: int, concurrency: int) -> dict[str, dict[str, Any]]:
    """Lateness of a delayed task's start after its due time, and of the floor timer."""
    worker = spawn_worker(url, concurrency)
    scheduler = spawn_scheduler(url)
    try:
        time.sleep(1.0)  # both processes up and asleep (the first sample is a warm-up too)
        return asyncio.run(_delayed(url, samples))
    finally:
        stop(worker)
        stop(scheduler)


async def _fire(url: str, schedules: int, schedulers: int) -> dict[str, dict[str, Any]]:
    client = Redis.from_url(url, decode_responses=True)
    await client.flushdb()  # each run starts empty: its schedules, its count of fired tasks
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    names = [f"bench-{i:05d}" for i in range(schedules)]
    for name in names:
        body = {"name": name, "task": {"name": "bench_noop"}, "every": 3600, "overlap": "allow"}
        await state.create_schedule(Schedule.model_validate(body))
    tick = (await _redis_ms(client) // 1000 + 3) * 1000  # a whole second, ~2-3 s ahead
    await client.zadd(state.keys.schedule_next, dict.fromkeys(names, tick))
    await client.zadd(state.keys.sched_bell, {"r": 0})
    stop_floor = asyncio.Event()
    timers = [asyncio.create_task(floor_timer(url, stop_floor)) for _ in range(schedulers)]
    await client.zadd(FLOOR_DUE, {f"{tick}:{i}": tick for i in range(schedules)})
    await client.zadd(FLOOR_BELL, {"r": 0})
    try:
        deadline = time.monotonic() + 60
        while await client.zcard(state.keys.all_index()) < schedules:
            if time.monotonic() > deadline:
                raise SystemExit("bench: the schedules did not all fire in 60 s")
            await asyncio.sleep(0.05)
        while await client.llen(FLOOR_OUT) < schedules:
            if time.monotonic() > deadline:
                raise SystemExit("bench: the floor timers did not all fire in 60 s")
            await asyncio.sleep(0.05)
        ids = cast(list[str], await client.zrange(state.keys.all_index(), 0, -1))
        tasks = await state.get_summaries(ids, waiting=False)
        ours = [t.submitted_at.timestamp() * 1000 - tick for t in tasks if t.submitted_at]
        moved = cast(list[str], await client.lrange(FLOOR_OUT, 0, -1))
        base = [int(m.split("|")[1]) / 1e6 - tick for m in moved]
    finally:
        stop_floor.set()
        for _ in timers:
            await client.zadd(FLOOR_BELL, {"r": 0})
        await asyncio.gather(*timers)
        await client.aclose()
        await state.close()
    return {"floor": _summary(base), "jobbers": _summary(ours)}


def fire(url: str, schedules: int, schedulers: int = 3) -> dict[str, dict[str, Any]]:
    """Delay from the tick to the fired task, ``schedules`` due in one second."""
    procs = [spawn_scheduler(url) for _ in range(schedulers)]
    try:
        time.sleep(1.0)
        return asyncio.run(_fire(url, schedules, schedulers))
    finally:
        for proc in procs:
            stop(proc)
