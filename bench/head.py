"""Head of line: an eligible task's submit -> start while a capped type fills the queue's head.

One worker process (concurrency C) runs two ``bench_capped`` tasks (``max_concurrent=2``)
and ``capped`` more of them wait at the head of its queue for the whole measurement. The
driver then submits one ``bench_stamp`` at a time, as the latency part does, and reads
submit -> start of each (``time.time_ns()`` at submit and first thing in the body). Before
issue 21 such a task waited until a capped run ended (here: forever); the figure should
match an idle worker's latency, whatever ``capped`` is.
"""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager

from .common import flush_sync, percentile, spawn_worker, stop, sync_client, wait_until
from .latency import WARMUP, _jobbers_sample


async def _fill(url: str, capped: int) -> None:
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    for offset in range(0, capped, 1000):
        await state.submit_many(
            [Task(name="bench_capped") for _ in range(min(1000, capped - offset))]
        )
    await state.close()


async def _samples(url: str, samples: int) -> list[float]:
    state = StateManager.from_url(url)
    starts = []
    for i in range(samples + WARMUP):
        start, _ = await _jobbers_sample(state)
        if i >= WARMUP:
            starts.append(start)
        await asyncio.sleep(0.003)
    await state.close()
    return starts


def run(url: str, samples: int, capped: int, concurrency: int) -> dict[str, Any]:
    """submit -> start percentiles of eligible tasks behind ``capped`` waiting capped ones."""
    flush_sync(url)
    r = sync_client(url)
    asyncio.run(_fill(url, capped))
    proc: subprocess.Popen[Any] = spawn_worker(url, concurrency)
    try:
        started = StateManager.from_url(url).keys.status_index(TaskStatus.STARTED)
        wait_until(lambda: r.zcard(started) >= 2, 60, "two capped runs")
        starts = asyncio.run(_samples(url, samples))
        running = int(r.zcard(started))
    finally:
        r.rpush("bench:release", *range(capped))
        stop(proc)
    if running != 2:
        raise SystemExit(f"bench: {running} capped runs at once, the cap is 2")
    return {
        "p50_ms": percentile(starts, 50),
        "p99_ms": percentile(starts, 99),
        "max_ms": max(starts),
        "samples": len(starts),
        "capped_waiting": capped - 2,
    }
