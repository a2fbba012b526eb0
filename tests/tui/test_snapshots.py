"""Snapshot tests: every view at 80x24, 120x36 and 200x50 must not regress.

Most render one frozen frame (``frames.py``: the API's models with fixed ids and times)
through the app's own message path with polling off; the queues view renders what a real
manager on a real Redis answers. Review changes with ``--snapshot-update`` and by looking
at the SVGs under ``__snapshots__/``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from jobbers.server.app import create_app
from jobbers.server.settings import ServerSettings
from jobbers.tui.app import JobbersApp
from jobbers.tui.messages import PollFailed, SnapshotFetched
from jobbers.tui.screens.detail import TaskDetailScreen
from jobbers.tui.screens.forms import SubmitForm
from jobbers.tui.snapshot import PageQuery, View
from textual.pilot import Pilot
from textual.widgets import Input

from jobbers.api.client import JobbersClient
from jobbers.api.schemas import QueueConfig, QueueUpdate, RatePeriod, Role, Task

from . import frames

SnapCompare = Callable[..., bool]
SMALL = (80, 24)
MEDIUM = (120, 36)
LARGE = (200, 50)
# Every view at the three widths operators use most (tests/tui/test_layout.py checks
# that nothing scrolls sideways at the widths in between).
SIZES = pytest.mark.parametrize("size", [SMALL, MEDIUM, LARGE], ids=["80x24", "120x36", "200x50"])


@pytest.fixture
def frozen() -> Iterator[JobbersApp]:
    """The app with polling off, its clock frozen, fed the fixed frame once running."""
    client = JobbersClient("http://127.0.0.1:8000")
    yield JobbersApp(client, 1.0, clock=frames.clock, autopoll=False)
    asyncio.run(client.aclose())


def feed(*messages: Any) -> Callable[[Pilot[None]], Awaitable[None]]:
    """A ``run_before`` posting the fixed frame (and any other message) to the app."""

    async def run_before(pilot: Pilot[None]) -> None:
        pilot.app.post_message(SnapshotFetched(frames.frame()))
        for message in messages:
            pilot.app.post_message(message)
        await pilot.pause()

    return run_before


@SIZES
def test_overview(snap_compare: SnapCompare, frozen: JobbersApp, size: tuple[int, int]) -> None:
    """Queues with depth, throughput, limits and sparklines; a paused queue; totals."""
    assert snap_compare(frozen, terminal_size=size, run_before=feed())


@SIZES
def test_running(snap_compare: SnapCompare, frozen: JobbersApp, size: tuple[int, int]) -> None:
    """Progress bars, heartbeat ages near and past their limit, the stalled table beneath."""
    assert snap_compare(frozen, terminal_size=size, press=["2"], run_before=feed())


@SIZES
def test_dlq(snap_compare: SnapCompare, frozen: JobbersApp, size: tuple[int, int]) -> None:
    """Dead letters, newest first: attempt, age and error, the error cut with an ellipsis."""
    assert snap_compare(frozen, terminal_size=size, press=["3"], run_before=feed())


@SIZES
def test_queues(snap_compare: SnapCompare, frozen: JobbersApp, size: tuple[int, int]) -> None:
    """Queue settings, a paused queue, and the roles that read them."""
    assert snap_compare(frozen, terminal_size=size, press=["5"], run_before=feed())


@SIZES
def test_scheduled(snap_compare: SnapCompare, frozen: JobbersApp, size: tuple[int, int]) -> None:
    """Tasks waiting for a retry, soonest first, with their due time; one overdue."""
    assert snap_compare(frozen, terminal_size=size, press=["6"], run_before=feed())


def test_dlq_with_marks(snap_compare: SnapCompare, frozen: JobbersApp) -> None:
    """Dead letters, newest first, two of them marked for a bulk action."""
    assert snap_compare(frozen, press=["3", "space", "space"], run_before=feed())


def test_dlq_delete_asks_first(snap_compare: SnapCompare, frozen: JobbersApp) -> None:
    """Deleting marked dead letters asks for a confirmation."""
    assert snap_compare(frozen, press=["3", "space", "space", "d"], run_before=feed())


@SIZES
def test_workers(snap_compare: SnapCompare, frozen: JobbersApp, size: tuple[int, int]) -> None:
    """Live workers and one whose lease expired."""
    assert snap_compare(frozen, terminal_size=size, press=["4"], run_before=feed())


def test_task_detail(snap_compare: SnapCompare, frozen: JobbersApp) -> None:
    """A dead letter's parameters, timestamps and failure history with tracebacks."""
    task = frames.dlq().items[0]
    assert isinstance(task, Task)  # the frame's rows are whole tasks, for the detail view

    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.app.push_screen(TaskDetailScreen(str(task.id)))
        query = PageQuery(View.DETAIL, task_id=str(task.id))
        pilot.app.post_message(SnapshotFetched(frames.frame(query, detail=task)))
        await pilot.pause()

    assert snap_compare(frozen, terminal_size=(80, 40), run_before=run_before)


def test_manager_unreachable_banner(snap_compare: SnapCompare, frozen: JobbersApp) -> None:
    """The banner says what is wrong and how old the data still shown is."""
    failure = PollFailed("connection refused", frames.NOW.replace(second=35), unreachable=True)
    assert snap_compare(frozen, run_before=feed(failure))


def test_help(snap_compare: SnapCompare, frozen: JobbersApp) -> None:
    """The key map, generated from the bindings."""
    assert snap_compare(frozen, terminal_size=(80, 60), press=["question_mark"])


def test_queue_form(snap_compare: SnapCompare, frozen: JobbersApp) -> None:
    """Editing a paused queue's limits (the third queue in the overview)."""
    assert snap_compare(frozen, press=["down", "down", "e"], run_before=feed())


def test_submit_form(snap_compare: SnapCompare, frozen: JobbersApp) -> None:
    """The palette's "Submit a task": name and version, JSON parameters, queue."""

    async def run_before(pilot: Pilot[None]) -> None:
        await feed()(pilot)
        form = SubmitForm([q.name for q in frames.stats().queues])
        await pilot.app.push_screen(form)
        form.query_one("#name", Input).value = "generate_report"
        form.query_one("#parameters", Input).value = '{"report_id": 42, "format": "pdf"}'
        await pilot.pause()

    assert snap_compare(frozen, run_before=run_before)


def test_queues_and_roles_from_a_real_manager(snap_compare: SnapCompare, clean_redis: str) -> None:
    """The queues view as a real manager on a real Redis answers it (no times in it)."""
    manager = create_app(ServerSettings(redis_url=clean_redis))
    client = JobbersClient("http://127.0.0.1:8000", transport=httpx.ASGITransport(app=manager))
    app = JobbersApp(client, 60.0, clock=frames.clock)

    async def run_before(pilot: Pilot[None]) -> None:
        await client.create_queue(QueueConfig(name="emails", max_concurrent=10))
        await client.create_queue(QueueConfig(name="reports"))
        limits = QueueUpdate(
            max_concurrent=5, rate_numerator=100, rate_denominator=2, rate_period=RatePeriod.HOUR
        )
        await client.update_queue("reports", limits)
        await client.pause_queue("reports")
        await client.create_role(Role(name="heavy", queues=["reports", "default"]))
        await client.create_role(Role(name="mail", queues=["emails"]))
        await pilot.press("5")
        table = pilot.app.screen.query_one("#roles")
        deadline = time.monotonic() + 10
        while getattr(table, "row_count", 0) < 3:
            assert time.monotonic() < deadline, "the roles never showed"
            await pilot.pause(0.05)

    assert snap_compare(app, run_before=run_before)
