"""Fixtures: ``jobbers`` run in-process by CliRunner against the real manager app.

The CLI's own client code path runs unchanged; only its transport is swapped for an
``httpx.ASGITransport`` over ``create_app`` on the test Redis. Each invocation gets a fresh
StateManager, because every CLI call runs its own event loop and Redis connections belong
to the loop that opened them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from jobbers.cli.app import app
from jobbers.cli.session import CliConfig
from jobbers.server.app import create_app
from jobbers.server.settings import ServerSettings
from typer.testing import CliRunner, Result

from jobbers.registry import load_tasks_module
from jobbers.state_manager import StateManager
from tests.conftest import TASKS_MODULE, spawn


class AppTransport(httpx.ASGITransport):
    """The manager app in-process, over a StateManager opened in the caller's event loop."""

    def __init__(self, redis_url: str, token: str | None = None) -> None:
        self.state = StateManager.from_url(redis_url)
        settings = ServerSettings(redis_url=redis_url, api_token=token)
        super().__init__(app=create_app(settings, state=self.state))

    async def aclose(self) -> None:
        await self.state.close()


@dataclass
class Cli:
    """``cli("list", "-q")`` runs ``jobbers list -q`` and returns the CliRunner Result."""

    redis_url: str
    token: str | None = None
    runner: CliRunner = field(default_factory=CliRunner)

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        config = CliConfig(transport_factory=lambda: AppTransport(self.redis_url, self.token))
        return self.runner.invoke(app, list(args), input=input, env=env, obj=config)

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Run and assert exit status 0, showing stderr on failure."""
        result = self(*args, input=input)
        assert result.exit_code == 0, (
            result.exit_code,
            result.stdout,
            result.stderr,
            result.exception,
        )
        return result

    def json(self, *args: str) -> Any:
        """Run with --json and parse stdout (one document, nothing else)."""
        return json.loads(self.ok(*args, "--json").stdout)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the same app directly, to compare the CLI's JSON with the API's."""
        transport = AppTransport(self.redis_url, self.token)
        with httpx.Client(transport=_SyncBridge(transport), base_url="http://test") as http:
            return http.request(method, path, **kwargs)


class _SyncBridge(httpx.BaseTransport):
    """Drive an async transport from sync test code, one event loop per request."""

    def __init__(self, transport: AppTransport) -> None:
        self.transport = transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        async def go() -> httpx.Response:
            request.stream = httpx.ByteStream(request.read())
            response = await self.transport.handle_async_request(request)
            body = await response.aread()
            await self.transport.aclose()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return asyncio.run(go())


@pytest.fixture(scope="session", autouse=True)
def _sample_tasks() -> None:
    """The manager validates submissions against the registry: register the sample tasks."""
    load_tasks_module(TASKS_MODULE)


@pytest.fixture
def cli(clean_redis: str) -> Cli:
    """The ``jobbers`` CLI against a real manager app on a flushed Redis."""
    return Cli(clean_redis)


@pytest.fixture
def worker(clean_redis: str, tmp_path: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker process running ``tests/sample_tasks.py``."""
    proc = spawn(
        ["-m", "jobbers.worker_main", TASKS_MODULE], clean_redis, log=tmp_path / "worker.log"
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def poll(check: Any, timeout: float = 10.0, what: str = "") -> Any:
    """Call ``check`` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}; last={last!r}")


def run_jobbers(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """``python -m jobbers.cli ARGS`` in a subprocess (for start-up and layering checks)."""
    return subprocess.run(
        [sys.executable, "-m", "jobbers.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
