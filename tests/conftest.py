"""Fixtures: a private Redis server per test session, flushed before each test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis as SyncRedis

from jobbers.dev.redis_server import RedisServer, free_port
from jobbers.store.facade import StateManager

ROOT = Path(__file__).resolve().parent.parent
TASKS_MODULE = str(Path(__file__).resolve().parent / "sample_tasks.py")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL when set (it is flushed!), else a private server on a free port."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def clean_redis(redis_url: str) -> str:
    """The Redis URL, after FLUSHDB."""
    client = SyncRedis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url


@pytest.fixture
async def state(clean_redis: str) -> AsyncIterator[StateManager]:
    """A StateManager on a flushed Redis, with the default queue and role."""
    manager = StateManager.from_url(clean_redis)
    await manager.ensure_defaults()
    yield manager
    await manager.close()


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[tuple[RedisServer, StateManager]]:
    """A Redis server of the test's own (to stop, kill or restart) and a StateManager on it."""
    server = RedisServer(free_port(), tmp_path / "redis").start()
    state = StateManager.from_url(server.url)
    await state.ensure_defaults()
    yield server, state
    await state.close()
    server.stop(kill=True)


async def eventually(
    check: Callable[[], Any], within: float = 10.0, interval: float = 0.02, what: str = ""
) -> Any:
    """Poll ``check`` (sync or async) until it returns a truthy value, or fail at the deadline."""
    import asyncio
    import inspect

    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within}s waiting for {what or check}; last={last!r}")


def spawn(
    args: list[str], redis_url: str, env: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a jobbers process (python -m ...) against ``redis_url``."""
    full_env = {**os.environ, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1", **(env or {})}
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, *args], env=full_env, stdout=out, stderr=subprocess.STDOUT
    )


@pytest.fixture
async def start_worker(state: StateManager) -> AsyncIterator[Callable[..., Any]]:
    """Start in-process workers on the sample tasks; they are shut down after the test."""
    import asyncio

    from jobbers.registry import load_tasks_module
    from jobbers.runtime.worker import Worker, WorkerSettings

    load_tasks_module(TASKS_MODULE)
    started: list[tuple[Worker, asyncio.Task[None]]] = []

    async def start(**settings: Any) -> Worker:
        worker = Worker(state, WorkerSettings(**settings))
        runner = asyncio.create_task(worker.run())
        started.append((worker, runner))
        await eventually(lambda: worker.routing.version >= 0, what="worker routing")
        return worker

    yield start
    for worker, _ in started:
        worker.request_shutdown()
        worker.request_shutdown()
    for _, runner in started:
        await asyncio.wait_for(runner, 30)


async def wait_status(
    state: StateManager, task_id: object, *statuses: str, within: float = 10.0
) -> Any:
    """Poll a task until it reaches one of ``statuses``; returns the task."""

    async def check() -> Any:
        found = await state.get_task(str(task_id))
        return found if found.status in statuses else None

    return await eventually(check, within=within, what=f"task {task_id} in {statuses}")


@pytest.fixture
def procs(clean_redis: str, tmp_path: Path) -> Iterator[Any]:
    """Real worker, scheduler and cleaner subprocesses (``tests.procs.Procs``), killed after."""
    from tests.procs import Procs

    started = Procs(clean_redis, tmp_path)
    yield started
    started.close()
