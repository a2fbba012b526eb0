"""Drain throughput and submit->start latency of one jobbers_worker process.

Method (as in shared/notes/performance.md): a private Redis/Valkey with persistence off,
one worker process at concurrency 32, N no-op tasks. Enqueue rate is measured through
StateManager.submit (one script call per task, awaited one by one, as an API would).
Drain: tasks are enqueued first, then a worker is started and the time from its first
start to the last completion is measured. Latency: with an idle worker, tasks are
submitted one at a time and started_at - submitted_at (Redis clock) is recorded.

    .venv/bin/python bench/throughput.py [--tasks 20000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobbers.models.task import Task, TaskStatus
from jobbers.redis_server import RedisServer, free_port
from jobbers.state_manager import StateManager

HERE = Path(__file__).resolve().parent


async def wait_for(state: StateManager, status: TaskStatus, count: int) -> None:
    while True:
        if await state.redis.zcard(state.keys.status_index(status)) >= count:
            return
        await asyncio.sleep(0.01)


def start_worker(url: str, concurrency: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": url,
        "WORKER_CONCURRENT_TASKS": str(concurrency),
        "JOBBERS_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "jobbers.worker_main", str(HERE / "tasks.py")], env=env
    )


async def bench(url: str, n: int, concurrency: int) -> dict[str, float]:
    state = StateManager.from_url(url)
    await state.redis.flushdb()
    await state.ensure_defaults()
    t0 = time.perf_counter()
    for _ in range(n):
        await state.submit(Task(name="bench_noop"))
    enqueue = n / (time.perf_counter() - t0)
    memory = int((await state.redis.info("memory"))["used_memory"])
    worker = start_worker(url, concurrency)
    try:
        await wait_for(state, TaskStatus.COMPLETED, n)
        first = await state.redis.zrange(
            state.keys.status_index("completed"), 0, 0, withscores=True
        )
        last = await state.redis.zrange(
            state.keys.status_index("completed"), -1, -1, withscores=True
        )
        tasks = await state.get_tasks(
            await state.redis.zrange(state.keys.status_index("completed"), 0, 0)
        )
        start_ms = tasks[0].started_at.timestamp() * 1000 if tasks[0].started_at else first[0][1]
        drain = n / ((last[0][1] - start_ms) / 1000)
        lat = []
        for _ in range(300):
            task, _ = await state.submit(Task(name="bench_noop"))
            while True:
                got = await state.get_task(task.id)
                if got.status == TaskStatus.COMPLETED:
                    break
                await asyncio.sleep(0.0005)
            assert got.started_at and got.submitted_at
            lat.append((got.started_at - got.submitted_at).total_seconds() * 1000)
    finally:
        worker.terminate()
        worker.wait()
    await state.close()
    lat.sort()
    return {
        "enqueue_per_s": enqueue,
        "drain_per_s": drain,
        "latency_p50_ms": statistics.median(lat),
        "latency_p99_ms": lat[int(len(lat) * 0.99) - 1],
        "bytes_per_queued_task": memory / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(free_port(), Path(tmp), appendonly=False).start()
        try:
            results = [
                asyncio.run(bench(server.url, args.tasks, args.concurrency))
                for _ in range(args.runs)
            ]
        finally:
            server.stop()
    for key in results[0]:
        values = sorted(r[key] for r in results)
        runs = [round(v, 2) for v in values]
        print(f"{key:24s} median {statistics.median(values):10.2f}   runs {runs}")


if __name__ == "__main__":
    main()
