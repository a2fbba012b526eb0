"""Enqueue: N no-op tasks into an empty Redis, no worker running.

* ``submit``: ``StateManager.submit`` from 100 concurrent asyncio callers sharing one
  StateManager (one connection pool), against the floor's 100 concurrent LPUSH callers;
* ``submit_many``: batches of 1,000 from one caller (when the core has the verb), against
  the floor's pipelined LPUSH batches of 1,000; and from 4 concurrent callers, whose
  client work overlaps Redis's;
* ``http``: ``POST /submit-task`` to a real manager (uvicorn, as ``jobbers_manager`` runs
  it) from 16 concurrent keep-alive connections (``bench/http_load.py``, a driver light
  enough that the manager is what is measured); ``POST /submit-tasks`` in batches of 100
  when it exists.

Every run checks that exactly N tasks are ``submitted`` afterwards.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from jobbers.dev.redis_server import free_port
from jobbers.models.task import Task
from jobbers.store.facade import StateManager

from . import floor
from .common import TASKS, start_http, stop, sync_client, waiting
from .http_load import post_many

CALLERS = 100
HTTP_CLIENTS = 16
BATCH = 1000
HTTP_BATCH = 100


def check_stored(url: str, n: int) -> None:
    """Exit unless exactly ``n`` tasks wait to run."""
    state = StateManager.from_url(url)
    got = waiting(sync_client(url), state.keys)
    if got != n:
        raise SystemExit(f"bench: enqueue stored {got} submitted tasks, not {n}")


async def submit_rate(
    url: str, n: int, callers: int = CALLERS, replicas: int | None = None
) -> float:
    """Submits per second of ``n`` tasks from ``callers`` concurrent callers; with
    ``replicas``, each submit waits for that many replicas (None: as the environment says)."""
    state = StateManager.from_url(url)
    if replicas is not None:
        state.submit_replicas = replicas
    await state.ensure_defaults()
    left = [n]

    async def caller() -> None:
        while left[0] > 0:
            left[0] -= 1
            await state.submit(Task(name="bench_noop"))

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    rate = n / (time.perf_counter() - started)
    await state.close()
    return rate


async def _submit_many(url: str, n: int, callers: int) -> float | None:
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    submit_many = getattr(state, "submit_many", None)
    if submit_many is None:
        await state.close()
        return None
    batches = [min(BATCH, n - offset) for offset in range(0, n, BATCH)]

    async def caller() -> None:
        while batches:
            results = await submit_many([Task(name="bench_noop") for _ in range(batches.pop())])
            assert all(created for _, created in results)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    rate = n / (time.perf_counter() - started)
    await state.close()
    return rate


def jobbers_submit(url: str, n: int) -> float:
    """Unbatched submits from 100 concurrent callers: tasks/s."""
    sync_client(url).flushdb()
    rate = asyncio.run(submit_rate(url, n))
    check_stored(url, n)
    return rate


def jobbers_submit_many(url: str, n: int, callers: int = 1) -> float | None:
    """Batch submits of 1,000 from ``callers`` concurrent callers: tasks/s (None: no verb)."""
    sync_client(url).flushdb()
    rate = asyncio.run(_submit_many(url, n, callers))
    if rate is not None:
        check_stored(url, n)
    return rate


def naive_submit(url: str, n: int) -> float:
    """The floor's 100 concurrent LPUSH callers: tasks/s."""
    sync_client(url).flushdb()
    return asyncio.run(floor.enqueue(url, n, CALLERS))


def naive_pipelined(url: str, n: int) -> float:
    """The floor's pipelined LPUSH, 1,000 a round trip: tasks/s."""
    sync_client(url).flushdb()
    return asyncio.run(floor.enqueue_pipelined(url, n, BATCH))


def start_manager(url: str) -> tuple[subprocess.Popen[bytes], str]:
    """A real manager on a free port, serving the bench tasks; returns it and its URL."""
    port = free_port()
    manager = [str(Path(sys.executable).parent / "jobbers_manager"), TASKS, "--port", str(port)]
    env = {**os.environ, "REDIS_URL": url, "JOBBERS_API_TOKEN": ""}
    return start_http(manager, port, "the manager", env)


async def _http(base: str, n: int, batch: int) -> float:
    one = b'{"name":"bench_noop"}'
    if batch == 1:
        bodies = [one] * n
        path = "/submit-task"
    else:
        sizes = [min(batch, n - offset) for offset in range(0, n, batch)]
        bodies = [b'{"tasks":[' + b",".join([one] * size) + b"]}" for size in sizes]
        path = "/submit-tasks"
    started = time.perf_counter()
    await post_many(base, path, bodies, HTTP_CLIENTS)
    return n / (time.perf_counter() - started)


def http(url: str, n: int) -> dict[str, Any]:
    """POST /submit-task from 16 clients (and /submit-tasks when served): tasks/s."""
    sync_client(url).flushdb()
    proc, base = start_manager(url)
    try:
        out: dict[str, Any] = {"single_per_s": asyncio.run(_http(base, n, 1))}
        check_stored(url, n)
        paths = httpx.get(f"{base}/openapi.json").json().get("paths", {})
        if "/submit-tasks" in paths:
            out["batch_per_s"] = asyncio.run(_http(base, n, HTTP_BATCH))
            check_stored(url, 2 * n)
    finally:
        stop(proc)
    return out
