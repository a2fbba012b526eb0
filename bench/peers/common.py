"""Shared by the peer drivers: the counter every task increments, and the timing loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import redis

COUNTER = "bench:done"


def wait_count(url: str, n: int, deadline_s: float = 600) -> tuple[float, float]:
    """Wait until COUNTER reaches n; returns (time of the first increment, time of the last)."""
    client = redis.Redis.from_url(url)
    first = None
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        done = int(client.get(COUNTER) or 0)
        if done and first is None:
            first = time.perf_counter()
        if done >= n:
            return first or time.perf_counter(), time.perf_counter()
        time.sleep(0.002)
    sys.exit(f"timed out at {client.get(COUNTER)} of {n}")


async def enqueue_rate(n: int, enqueue: Callable[[], Awaitable[object]]) -> float:
    """Await ``enqueue()`` n times, one after another; returns the enqueues per second."""
    t0 = time.perf_counter()
    for _ in range(n):
        await enqueue()
    return n / (time.perf_counter() - t0)


def drain(args: list[str], url: str, n: int, enqueue_rate: float, **popen: Any) -> None:
    """Start a worker with ``args``, time the drain of n tasks, print both rates."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)
    try:
        first, last = wait_count(url, n)
    finally:
        proc.terminate()
        proc.wait()
    print(f"enqueue_per_s={enqueue_rate:.0f} drain_per_s={n / (last - first):.0f}")


def main(
    enqueue: Callable[[int], Coroutine[Any, Any, float]], worker: list[str], url: str, **popen: Any
) -> None:
    """A driver's run: ``enqueue`` the n tasks of ``sys.argv[1]``, then time their drain by
    the ``worker`` command."""
    n = int(sys.argv[1])
    drain(worker, url, n, asyncio.run(enqueue(n)), **popen)
