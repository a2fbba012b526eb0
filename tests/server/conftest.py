"""Fixtures: the real manager app over a real (flushed) Redis, reached through ASGITransport."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from jobbers.server.app import create_app
from jobbers.server.settings import ServerSettings
from redis import Redis as SyncRedis
from ulid import ULID

from jobbers.dev.redis_server import free_port
from jobbers.store.facade import StateManager
from jobbers.store.runs import ClaimedTask
from tests.conftest import TASKS_MODULE, eventually, spawn

Client = httpx.AsyncClient

# The console script is a Python file: run it with this interpreter, as installed.
MANAGER = Path(sys.executable).parent / "jobbers_manager"


def make_app(redis_url: str, state: StateManager | None = None, **settings: Any) -> FastAPI:
    """The manager app on ``redis_url``, knowing the sample tasks."""
    app: FastAPI = create_app(
        ServerSettings(redis_url=redis_url, tasks_module=TASKS_MODULE, **settings), state=state
    )
    return app


def client_for(app: FastAPI, **headers: str) -> httpx.AsyncClient:
    """An HTTP client calling ``app`` in-process."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers
    )


@dataclass
class LiveManager:
    """The manager app served by uvicorn on a free port, in the test's event loop.

    ``stop`` and ``start`` at will: while stopped, connections to the port are refused.
    """

    redis_url: str
    state: StateManager
    settings: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    server: uvicorn.Server | None = None
    task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Serve until ``stop``; returns once the port accepts connections."""
        app = make_app(self.redis_url, self.state, **self.settings)
        self.server = uvicorn.Server(uvicorn.Config(app, port=self.port, log_level="warning"))
        self.task = asyncio.create_task(self.server.serve())
        server = self.server
        await eventually(lambda: server.started, what="uvicorn listening")

    async def stop(self) -> None:
        """Shut down (open streams are closed)."""
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await self.task
            self.server = self.task = None


@contextlib.asynccontextmanager
async def manager_process(
    redis_url: str, log: Path, token: str = "", args: tuple[str, ...] = (), **env: str
) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """``jobbers_manager`` started as its own process on a free port (``JOBBERS_API_TOKEN``
    set to ``token``, ``args`` and ``env`` added), and a client of it once it answers
    ``/health``; stopped afterwards."""
    port = free_port()
    process = spawn(
        [str(MANAGER), TASKS_MODULE, "--port", str(port), *args],
        redis_url,
        env={"JOBBERS_API_TOKEN": token, **env},
        log=log,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def up() -> bool:
                try:
                    return (await client.get("/health")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, 20, what="the manager to listen")
            yield client, port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def live_manager(state: StateManager, clean_redis: str) -> AsyncIterator[LiveManager]:
    """A running manager on a free port, stopped after the test."""
    manager = LiveManager(clean_redis, state)
    await manager.start()
    yield manager
    await manager.stop()


@pytest.fixture
def app(state: StateManager, clean_redis: str) -> FastAPI:
    """The manager app over the test's StateManager (defaults ensured)."""
    return make_app(clean_redis, state)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app``."""
    async with client_for(app) as c:
        yield c


@pytest.fixture
def dbsize(clean_redis: str) -> Callable[[], int]:
    """How many keys Redis holds now: proof that a rejected request stored nothing."""

    def size() -> int:
        client = SyncRedis.from_url(clean_redis)
        try:
            return int(client.dbsize())
        finally:
            client.close()

    return size


def new_id() -> str:
    """A fresh task id."""
    return str(ULID())


async def submit(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """Submit a task (``add`` on ``default`` unless told otherwise) and return it."""
    body = {"name": "add", "version": 1, "parameters": {"a": 1, "b": 2}, **fields}
    response = await client.post("/submit-task", json=body)
    assert response.status_code in (200, 201), response.text
    task: dict[str, Any] = response.json()["task"]
    return task


Claimer = Callable[..., Awaitable[ClaimedTask]]


@pytest.fixture
def claim(state: StateManager) -> Claimer:
    """Claim the next task of a queue as a registered worker would (a real core claim)."""

    async def claim_one(
        queue: str = "default", key: str = "add@1", worker: str = "w-test", hb_ms: int = 0
    ) -> ClaimedTask:
        info = {"role": "default", "host": "test-host", "pid": 4242, "concurrency": 4}
        info["queues"] = json.dumps([queue])
        await state.register_worker(worker, 60_000, info)
        res = await state.claim(worker, queue, 1, {key: (hb_ms, 1, -1)})
        assert res.status == "ok" and res.tasks, res
        return res.tasks[0]

    return claim_one


def failure(message: str = "boom") -> dict[str, Any]:
    """A history entry for a failed run."""
    return {"attempt": 0, "kind": "error", "message": message, "worker_id": "w-test"}
