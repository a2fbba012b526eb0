"""The event stream's costs (issue 19): delivery latency, and the drain with events on/off.

Latency: one task at a time is submitted to an idle system while a client follows
``GET /events`` of a real manager process (``jobbers_manager`` on uvicorn); a sample is
the time from just before the submit call (the transition: its script writes the entry)
to the client reading the event's ``data:`` line. Target: p99 <= 20 ms.

Drain cost: the drain of ``drain.jobbers`` (N queued no-op tasks, one worker process), with
every process's ``JOBBERS_EVENTS_MAXLEN`` at 0 (no events) and at its default, run by run
interleaved. Target: with events >= 0.9x the tasks/s without.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from jobbers.dev.redis_server import free_port
from jobbers.models.task import Task
from jobbers.store.facade import StateManager
from jobbers.store.scripts import EVENTS_MAXLEN_ENV

from . import drain
from .common import TASKS, percentile, start_http, stop, sync_client


@contextmanager
def events_cap(value: str | None) -> Iterator[None]:
    """JOBBERS_EVENTS_MAXLEN for this process and the ones it spawns (None: the default)."""
    before = os.environ.get(EVENTS_MAXLEN_ENV)
    if value is None:
        os.environ.pop(EVENTS_MAXLEN_ENV, None)
    else:
        os.environ[EVENTS_MAXLEN_ENV] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(EVENTS_MAXLEN_ENV, None)
        else:
            os.environ[EVENTS_MAXLEN_ENV] = before


def drain_pair(url: str, n: int, concurrency: int) -> dict[str, dict[str, Any]]:
    """One drain without events, then one with them."""
    with events_cap("0"):
        off = drain.jobbers(url, n, concurrency)
    with events_cap(None):
        on = drain.jobbers(url, n, concurrency)
    return {"off": off, "on": on}


def _manager(url: str) -> tuple[subprocess.Popen[bytes], str]:
    """A ``jobbers_manager`` process on a free port, once its /health answers."""
    port = free_port()
    manager = Path(sys.executable).parent / "jobbers_manager"
    env = {**os.environ, "REDIS_URL": url, "JOBBERS_LOG_LEVEL": "WARNING"}
    argv = [sys.executable, str(manager), TASKS, "--port", str(port)]
    return start_http(argv, port, "the manager to listen", env)


async def _latencies(base: str, url: str, samples: int) -> list[float]:
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    out: list[float] = []
    try:
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as http,
            http.stream("GET", "/events", params={"status": "submitted"}) as response,
        ):
            lines = response.aiter_lines()
            for i in range(samples + 5):  # the first five warm the path up
                task = Task(name="bench_noop")
                sent = time.perf_counter()
                await state.submit(task)
                async for line in lines:
                    if line.startswith("data:") and str(task.id) in line:
                        break
                if i >= 5:
                    out.append((time.perf_counter() - sent) * 1000)
                await asyncio.sleep(0.01)  # idle between samples: each is a lone change
    finally:
        await state.close()
    return out


def latency(url: str, samples: int) -> dict[str, float]:
    """Transition -> SSE client percentiles, ms, on a real manager process."""
    sync_client(url).flushdb()
    proc, base = _manager(url)
    try:
        times = asyncio.run(_latencies(base, url, samples))
    finally:
        stop(proc)
    return {
        "p50_ms": percentile(times, 50),
        "p99_ms": percentile(times, 99),
        "max_ms": max(times),
    }
