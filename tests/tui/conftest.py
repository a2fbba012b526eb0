"""Fixtures: ``jobbers top`` driven by Pilot against the real manager app on a real Redis.

The app's own ``JobbersClient`` runs unchanged; only its transport is an
``httpx.ASGITransport`` over ``create_app`` (the outage tests use a real uvicorn instead).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jobbers.tui.app import JobbersApp
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from jobbers.api.client import JobbersClient
from jobbers.api.schemas import RatePeriod, SubmitTaskRequest
from jobbers.registry import load_tasks_module
from jobbers.store.facade import StateManager
from tests.conftest import TASKS_MODULE, eventually
from tests.server.conftest import live_manager as live_manager  # the fixture, for the live tests
from tests.server.conftest import make_app

REFRESH = 0.25
MANAGER_URL = "http://manager.test"


class CountingTransport(httpx.ASGITransport):
    """The real app in-process, counting the requests by path (to bound the cost of a frame)."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__(app=app)
        self.calls: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[f"{request.method} {request.url.path}"] += 1
        return await super().handle_async_request(request)


@pytest.fixture(scope="session", autouse=True)
def _sample_tasks() -> None:
    """The manager checks submissions against the registry: register the sample tasks."""
    load_tasks_module(TASKS_MODULE)


@pytest.fixture(autouse=True)
def _tasks_see_the_test_redis(clean_redis: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sample tasks like ``forever`` record their runs in REDIS_URL: point it at the test's."""
    monkeypatch.setenv("REDIS_URL", clean_redis)


@pytest.fixture
def manager(state: StateManager, clean_redis: str) -> FastAPI:
    """The manager app over the test's StateManager."""
    return make_app(clean_redis, state)


@pytest.fixture
def transport(manager: FastAPI) -> CountingTransport:
    """The in-process transport to the manager."""
    return CountingTransport(manager)


@pytest.fixture
async def client(transport: CountingTransport) -> AsyncIterator[JobbersClient]:
    """The shared client, as ``jobbers top`` uses it."""
    async with JobbersClient(MANAGER_URL, transport=transport) as api:
        yield api


@pytest.fixture
def top(client: JobbersClient) -> Callable[..., JobbersApp]:
    """Build the app on the test manager, refreshing every REFRESH seconds."""

    def make(**options: Any) -> JobbersApp:
        return JobbersApp(client, options.pop("refresh", REFRESH), **options)

    return make


async def submit(client: JobbersClient, name: str = "add", **fields: Any) -> str:
    """Submit a sample task and return its id."""
    fields.setdefault("parameters", {"a": 1, "b": 2} if name == "add" else {})
    response = await client.submit_task(SubmitTaskRequest(name=name, **fields))
    return str(response.task.id)


async def limits_of(
    state: StateManager, queue: str
) -> tuple[int | None, int | None, int | None, RatePeriod | None]:
    """A stored queue's limits: (max_concurrent, rate_numerator, rate_denominator, period)."""
    q = await state.get_queue(queue)
    return (q.max_concurrent, q.rate_numerator, q.rate_denominator, q.rate_period)


def table(app: App[Any], selector: str) -> DataTable[Any]:
    """A table of the screen on top."""
    return app.screen.query_one(selector, DataTable)


def rows(app: App[Any], selector: str) -> list[list[str]]:
    """The cells of a table as plain text, row by row."""
    t = table(app, selector)
    return [[getattr(c, "plain", str(c)) for c in t.get_row_at(i)] for i in range(t.row_count)]


def by_column(app: App[Any], selector: str) -> list[dict[str, str]]:
    """The cells of a table as plain text, row by row, keyed by column (columns come and go
    with the width)."""
    t = table(app, selector)
    names = [str(k.value) for k in t.columns]
    return [dict(zip(names, row, strict=True)) for row in rows(app, selector)]


def keys(app: App[Any], selector: str) -> list[str]:
    """The row keys of a table, in display order."""
    return [row.key.value or "" for row in table(app, selector).ordered_rows]


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as plain text (the same render an SVG screenshot uses)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), record=True, force_terminal=True
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


async def filter_by(pilot: Pilot[None], text: str) -> None:
    """``/``, the filter typed in, enter (typed as one paste: each key press waits for idle)."""
    await pilot.press("slash")
    bar = pilot.app.screen.query_one("#filter", Input)
    await eventually(lambda: bar.has_focus, what="the filter bar")
    bar.value = text
    await pilot.press("enter")


async def shows(app: App[Any], *texts: str, within: float = 10.0) -> str:
    """Wait until the terminal shows every one of ``texts`` (wrapped or not); returns it."""

    def check() -> str | None:
        screen = screen_text(app)
        flat = " ".join(screen.split())
        return screen if all(" ".join(t.split()) in flat for t in texts) else None

    result: str = await eventually(check, within=within, what=f"screen showing {texts}")
    return result


async def has_rows(
    app: App[Any], selector: str, check: Callable[[list[list[str]]], bool], within: float = 10.0
) -> list[list[str]]:
    """Wait until the table's rows satisfy ``check``; returns them."""

    def probe() -> tuple[list[list[str]]] | None:
        try:
            found = rows(app, selector)
        except Exception:  # the screen is still being switched
            return None
        return (found,) if check(found) else None  # a tuple, so no rows can be a match too

    result: tuple[list[list[str]]] = await eventually(
        probe, within=within, what=f"rows of {selector}"
    )
    return result[0]
