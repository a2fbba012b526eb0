"""Shared by the peer drivers: the counter every task increments, and the timing loop."""

from __future__ import annotations

import sys
import time

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
