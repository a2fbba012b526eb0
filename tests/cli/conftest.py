"""Fixtures: ``jobbers`` run in-process by CliRunner against the real manager app.

The CLI's own client code path runs unchanged (``SyncJobbersClient`` over a blocking
transport); only that transport is swapped for one that calls ``create_app`` in-process.
The app runs on one event loop for the whole test, in an anyio blocking portal, as it would
in a server: its StateManager keeps its Redis connections across CLI calls.
"""

from __future__ import annotations

import contextlib
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
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI
from jobbers.cli.app import app
from jobbers.cli.session import CliConfig
from jobbers.server.app import create_app
from jobbers.server.settings import ServerSettings
from typer.testing import CliRunner, Result

from jobbers.registry import load_tasks_module
from jobbers.store.facade import StateManager
from tests.conftest import TASKS_MODULE, spawn


class PortalTransport(httpx.BaseTransport):
    """A blocking transport to the manager app, which runs on the portal's event loop."""

    def __init__(self, portal: BlockingPortal, manager: FastAPI) -> None:
        self.portal = portal
        self.asgi = httpx.ASGITransport(app=manager)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/events":
            # The in-process ASGI call returns only a finished body, and an event stream
            # never finishes: answer as a manager without the stream would, so --wait
            # polls here; tests/cli/test_events.py follows streams on a real manager.
            return httpx.Response(404, json={"detail": "no event stream in-process"})
        return self.portal.call(self._handle, request)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        response = await self.asgi.handle_async_request(request)
        body = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=body)


@dataclass
class Cli:
    """``cli("list", "-q")`` runs ``jobbers list -q`` and returns the CliRunner Result."""

    portal: BlockingPortal
    manager: FastAPI
    runner: CliRunner = field(default_factory=CliRunner)

    def transport(self) -> PortalTransport:
        """A transport to this manager, as the CLI's client gets it."""
        return PortalTransport(self.portal, self.manager)

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        terminal: bool | None = None,
    ) -> Result:
        """Run ``jobbers ARGS``; ``terminal=True`` makes stdin count as a terminal (prompts)."""
        config = CliConfig(transport_factory=self.transport)
        if terminal is not None:
            config.terminal = terminal
        return self.runner.invoke(app, list(args), input=input, env=env, obj=config)

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Run and assert exit status 0, showing stderr on failure."""
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        """Run with --json and parse stdout (one document, nothing else)."""
        return json.loads(self.ok(*args, "--json").stdout)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the same app directly, to compare the CLI's JSON with the API's."""
        with httpx.Client(transport=self.transport(), base_url="http://manager") as http:
            return http.request(method, path, **kwargs)


@contextlib.contextmanager
def running_cli(redis_url: str, **settings: Any) -> Iterator[Cli]:
    """A Cli whose manager app (with these ServerSettings) runs on Redis at ``redis_url``."""
    with start_blocking_portal() as portal:
        state = StateManager.from_url(redis_url, socket_timeout=2)
        config = ServerSettings.model_validate({"redis_url": redis_url, **settings})
        try:
            yield Cli(portal, create_app(config, state=state))
        finally:
            portal.call(state.close)


@pytest.fixture(scope="session", autouse=True)
def _sample_tasks() -> None:
    """The manager validates submissions against the registry: register the sample tasks."""
    load_tasks_module(TASKS_MODULE)


@pytest.fixture
def cli(clean_redis: str) -> Iterator[Cli]:
    """The ``jobbers`` CLI against a real manager app on a flushed Redis."""
    with running_cli(clean_redis) as running:
        yield running


@pytest.fixture
def worker(clean_redis: str, tmp_path: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker process running ``tests/sample_tasks.py``."""
    proc = spawn(
        ["-m", "jobbers.runtime.worker_main", TASKS_MODULE],
        clean_redis,
        log=tmp_path / "worker.log",
    )
    yield proc
    stop(proc, 15)


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Ask a process to stop (SIGTERM, letting it finish cleanly); kill it at the deadline."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
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


# Runs the entry point as the console script does, then lists sys.modules at exit.
_LISTING_MAIN = (
    "import atexit, sys\n"
    "listing = sys.argv.pop(1)\n"
    "atexit.register(lambda: open(listing, 'w').write(' '.join(sorted(sys.modules))))\n"
    "from jobbers.cli.main import main\n"
    "main()\n"
)


def run_entry_point(
    tmp_path: Any, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``jobbers ARGS`` in a subprocess; returns it and the modules it had loaded at exit."""
    listing = tmp_path / f"modules-{time.monotonic_ns()}.txt"
    done = subprocess.run(
        [sys.executable, "-c", _LISTING_MAIN, str(listing), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    return done, set(listing.read_text().split())
