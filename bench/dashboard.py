"""Dashboard cost with many tasks in Redis: /stats and first pages, through the real app.

The data set is written only through the core's own verbs, so every key, index and
counter is what production writes: ``submit_many`` (or concurrent ``submit``) puts M tasks
on four queues, then a registered bench worker really claims 85% of each queue with
``claim`` and records outcomes with ``finish_many`` (complete 70%, fail into the DLQ 10%,
retry later 3%, no task body runs), and ``cancel_task`` cancels 2%; 15% stay waiting.

Requests go through the real FastAPI app over ``httpx.ASGITransport`` (no socket, so the
time is the server's: routing, validation, the core and Redis). Each endpoint runs K
times in a row; its Redis commands per call come from an INFO commandstats delta, and any
KEYS or SCAN is reported (there must be none).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import httpx

from jobbers.models.queue import QueueConfig
from jobbers.models.task import Task
from jobbers.store.facade import StateManager
from jobbers.store.protocol import RunOutcome

from .common import SCANS, commandstats, delta, percentile, sync_client, used_memory

QUEUES = ["default", "bench1", "bench2", "bench3"]
# Outcome per 100 claimed-or-left tasks of a queue, in claim order.
COMPLETE, FAIL, RETRY, CANCEL = 70, 10, 3, 2
WORKER = "bench-populate"
ENDPOINTS = {
    "GET /stats": "/stats",
    "GET /task-list (first page)": "/task-list",
    "GET /task-list?status=completed&queue=bench1": "/task-list?status=completed&queue=bench1",
    "GET /task-list?status=submitted": "/task-list?status=submitted",
    "GET /dead-letter-queue (first page)": "/dead-letter-queue",
}


async def _submit_all(state: StateManager, queue: str, count: int) -> None:
    submit_many = getattr(state, "submit_many", None)
    if submit_many is not None:
        for offset in range(0, count, 1000):
            await submit_many(
                [Task(name="bench_noop", queue=queue) for _ in range(min(1000, count - offset))]
            )
        return
    left = [count]

    async def caller() -> None:
        while left[0] > 0:
            left[0] -= 1
            await state.submit(Task(name="bench_noop", queue=queue))

    await asyncio.gather(*(caller() for _ in range(100)))


async def _run_share(state: StateManager, queue: str, count: int) -> None:
    """Claim and finish the share of ``queue`` that leaves ``submitted``, in batches."""
    to_claim = count * (COMPLETE + FAIL + RETRY) // 100
    known = {"bench_noop@1": (0, 1, -1)}  # no heartbeat deadline, DLQ on failure, no cap
    claimed = 0
    while claimed < to_claim:
        res = await state.claim(WORKER, queue, min(500, to_claim - claimed), known, 500)
        if res.status != "ok" or not res.tasks:
            raise SystemExit(f"bench: populate claim on {queue} answered {res}")
        outcomes = []
        for task in res.tasks:
            slot = claimed % (COMPLETE + FAIL + RETRY)
            claimed += 1
            if slot < COMPLETE:
                outcomes.append(
                    state.outcome_args(task.id, task.run_id, RunOutcome.COMPLETED, "{}")
                )
                continue
            entry = {
                "attempt": task.attempt,
                "kind": "error",
                "message": "RuntimeError: bench failure",
                "exc_type": "RuntimeError",
                "worker_id": WORKER,
            }
            if slot < COMPLETE + FAIL:
                outcomes.append(
                    state.outcome_args(task.id, task.run_id, RunOutcome.FAILED, "", entry)
                )
            else:
                outcomes.append(
                    state.outcome_args(task.id, task.run_id, RunOutcome.RETRIED, "3600000", entry)
                )
        results = await state.finish_many(outcomes)
        assert all(o.ok for o in results), results[:3]
    cancel = count * CANCEL // 100
    # The oldest waiting tasks: compact ones, from the head of the queue's list of the type.
    ids = await state.redis.lrange(state.keys.waiting_list(queue, "bench_noop@1"), 0, cancel - 1)
    sem = asyncio.Semaphore(32)

    async def one(tid: str) -> None:
        async with sem:
            await state.cancel_task(tid, "bench")

    await asyncio.gather(*(one(str(tid)) for tid in ids))


def _fill_queues(url: str, queues: list[str], count: int) -> None:
    """Fill ``queues`` side by side (in a pool process): Redis works while Python prepares."""

    async def fill_all() -> None:
        state = StateManager.from_url(url)

        async def fill(queue: str) -> None:
            await _submit_all(state, queue, count)
            await _run_share(state, queue, count)

        await asyncio.gather(*(fill(queue) for queue in queues))
        await state.close()

    asyncio.run(fill_all())


async def populate(url: str, total: int) -> dict[str, int]:
    """Write ``total`` tasks across four queues and statuses; the count per status."""
    sync_client(url).flushdb()
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    for queue in QUEUES[1:]:
        await state.create_queue(QueueConfig(name=queue))
    await state.register_worker(WORKER, 3_600_000, {"role": "bench", "concurrency": 0})
    per_queue = total // len(QUEUES)
    # Two processes of two queues each: the driver's Python, not Redis, sets the pace.
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        halves = (QUEUES[::2], QUEUES[1::2])
        await asyncio.gather(
            *(loop.run_in_executor(pool, _fill_queues, url, half, per_queue) for half in halves)
        )
    await state.deregister_worker(WORKER)
    stats = await state.stats()
    await state.close()
    return dict(stats.statuses)


async def _measure(url: str, requests: int) -> dict[str, dict[str, Any]]:
    from jobbers.server.app import create_app
    from jobbers.server.settings import ServerSettings

    state = StateManager.from_url(url)
    app = create_app(ServerSettings(redis_url=url), state)
    r = sync_client(url)
    out: dict[str, dict[str, Any]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for label, path in ENDPOINTS.items():
            for _ in range(5):  # warm-up: connections, script cache, imports
                (await client.get(path)).raise_for_status()
            before = commandstats(r)
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                reply = await client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                reply.raise_for_status()
            cmds = delta(commandstats(r), before)
            cmds.pop("info", None)
            out[label] = {
                "p50_ms": percentile(times, 50),
                "p99_ms": percentile(times, 99),
                "commands_per_call": sum(cmds.values()) / requests,
                "scans": sum(cmds.get(k, 0) for k in SCANS),
                "bytes": len(reply.content),
            }
    await state.close()
    return out


def run(url: str, total: int, requests: int) -> dict[str, Any]:
    """Populate, then time every endpoint; the figures and how the data set looks."""
    started = time.perf_counter()
    statuses = asyncio.run(populate(url, total))
    built_s = time.perf_counter() - started
    stored = sum(statuses.values())
    if stored != total // len(QUEUES) * len(QUEUES):
        raise SystemExit(f"bench: populate stored {stored} tasks: {statuses}")
    return {
        "tasks": stored,
        "statuses": statuses,
        "build_s": built_s,
        "bytes_per_task": used_memory(url) / stored,
        "endpoints": asyncio.run(_measure(url, requests)),
    }
