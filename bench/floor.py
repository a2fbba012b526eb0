"""The naive floor: a bare redis-py queue with no task state, measured in the same run.

Two variants, as in ``shared/notes/performance.md``:

* ``blmove``: reliable; ``BLMOVE`` the message to a processing list, run it, ``LREM`` it;
* ``brpop``: ``BRPOP`` and run, no acknowledgement (a crash loses the task).

The worker half runs as its own process (``python -m bench.floor URL --mode ...``), like a
``jobbers_worker``, with the same number of concurrent consumers; it prints one JSON line
when ready and one with its timings when it has processed ``--exit-after`` messages. A
message that starts with ``L`` carries the driver's ``time.time_ns()`` at submit: the
worker answers on a reply list with the submit -> start delay, after its acknowledgement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

from redis.asyncio import Redis
from ulid import ULID


def keys(mode: str) -> tuple[str, str, str]:
    """The queue, processing and reply lists of one variant (they can run side by side)."""
    return f"floor:{mode}:q", f"floor:{mode}:processing", f"floor:{mode}:lat"


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _noop() -> None:
    return None


async def work(url: str, mode: str, concurrency: int, exit_after: int) -> dict[str, float]:
    """Consume until ``exit_after`` messages are done (0: forever); the timings."""
    client = Redis.from_url(url, decode_responses=True, max_connections=concurrency + 8)
    queue, processing, replies = keys(mode)
    await client.ping()
    print(json.dumps({"ready": time.time(), "cpu": _cpu_s()}), flush=True)
    stats: dict[str, Any] = {"done": 0, "first": None, "last": 0.0}
    finished = asyncio.Event()

    async def consumer() -> None:
        while True:
            if mode == "blmove":
                msg = await client.blmove(queue, processing, 1, "RIGHT", "LEFT")
            else:
                popped = await client.brpop([queue], 1)
                msg = popped[1] if popped else None
            if msg is None:
                continue
            started = time.time_ns()
            if stats["first"] is None:
                stats["first"] = time.time()
            await _noop()
            if mode == "blmove":
                await client.lrem(processing, 1, str(msg))
            stats["done"] += 1
            stats["last"] = time.time()
            if msg[0] == "L":
                await client.rpush(replies, started - int(msg[1:]))
            if stats["done"] == exit_after:
                finished.set()

    # Kept referenced until exit; the process exits without cancelling them (a cancelled
    # blocking read can hang in redis-py's retry path, and nothing needs cleaning up).
    tasks = [asyncio.create_task(consumer()) for _ in range(concurrency)]
    await finished.wait()
    cpu = _cpu_s()
    del tasks
    return {"first": stats["first"], "last": stats["last"], "cpu": cpu, "done": stats["done"]}


def spawn(url: str, mode: str, concurrency: int, exit_after: int = 0) -> subprocess.Popen[str]:
    """Start a floor worker process; read its first stdout line for the ready mark."""
    from bench.common import ROOT

    # BENCH_FLOOR_PYTHON runs the floor on another interpreter, to compare redis-py
    # releases and parsers (issue #20): a venv with that redis-py and python-ulid.
    python = os.environ.get("BENCH_FLOOR_PYTHON") or sys.executable
    argv = [python, "-m", "bench.floor", url, "--mode", mode]
    argv += ["--concurrency", str(concurrency), "--exit-after", str(exit_after)]
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def client_version() -> str:
    """The redis-py release and parser the floor workers run on (``BENCH_FLOOR_PYTHON``)."""
    python = os.environ.get("BENCH_FLOOR_PYTHON") or sys.executable
    code = (
        "import redis, redis.utils as u; "
        "parser = 'hiredis' if u.HIREDIS_AVAILABLE else 'no hiredis'; "
        "print(f'redis-py {redis.__version__}, {parser}')"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"


async def enqueue(url: str, n: int, callers: int, mode: str = "blmove") -> float:
    """``n`` LPUSHes from ``callers`` concurrent coroutines sharing one pool: tasks/s."""
    client = Redis.from_url(url, decode_responses=True)
    queue = keys(mode)[0]
    await client.ping()
    left = [n]

    async def caller() -> None:
        while left[0] > 0:
            left[0] -= 1
            await client.lpush(queue, str(ULID()))

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    rate = n / (time.perf_counter() - started)
    await client.aclose()
    return rate


async def enqueue_pipelined(url: str, n: int, batch: int) -> float:
    """``n`` LPUSHes sent ``batch`` to a pipeline round trip, one caller: tasks/s."""
    client = Redis.from_url(url, decode_responses=True)
    await client.ping()
    started = time.perf_counter()
    for offset in range(0, n, batch):
        pipe = client.pipeline(transaction=False)
        for _ in range(min(batch, n - offset)):
            pipe.lpush(keys("blmove")[0], str(ULID()))
        await pipe.execute()
    rate = n / (time.perf_counter() - started)
    await client.aclose()
    return rate


def main() -> None:
    """Entry point of the floor worker process."""
    parser = argparse.ArgumentParser(description="bare redis-py floor worker")
    parser.add_argument("url")
    parser.add_argument("--mode", choices=("blmove", "brpop"), default="blmove")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--exit-after", type=int, default=0)
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    result = loop.run_until_complete(work(args.url, args.mode, args.concurrency, args.exit_after))
    print(json.dumps(result), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
