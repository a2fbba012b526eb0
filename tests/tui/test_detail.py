"""One vocabulary with the CLI and the task's own ``attempt``: "attempt N", "error", "version"."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from jobbers.tui.app import JobbersApp
from jobbers.tui.messages import SnapshotFetched
from jobbers.tui.screens.detail import TaskDetailScreen
from jobbers.tui.snapshot import PageQuery, View

from jobbers.api.client import JobbersClient
from jobbers.models.task import Task

from . import frames
from .conftest import by_column, screen_text, shows


@pytest.fixture
async def frozen() -> AsyncIterator[JobbersApp]:
    """The app with polling off, its clock frozen (the frame is posted by each test)."""
    async with JobbersClient("http://127.0.0.1:8000") as client:
        yield JobbersApp(client, 1.0, clock=frames.clock, autopoll=False)


def lines(app: JobbersApp) -> list[str]:
    """The screen's lines, borders and runs of spaces squeezed out."""
    return [" ".join(line.strip(" █▊▎▌▐").split()) for line in screen_text(app).splitlines()]


@pytest.mark.parametrize("recoveries", [0, 2])
async def test_the_detail_numbers_attempts_like_the_task_does(
    frozen: JobbersApp, recoveries: int
) -> None:
    task = frames.dlq().items[0]  # failed three times: attempts 1, 2 and 3
    assert isinstance(task, Task)  # the frames' rows carry their history
    task.recoveries = recoveries
    async with frozen.run_test(size=(100, 60)) as pilot:
        await frozen.push_screen(TaskDetailScreen(str(task.id)))
        query = PageQuery(View.DETAIL, task_id=str(task.id))
        frozen.post_message(SnapshotFetched(frames.frame(query, detail=task)))
        await shows(frozen, "Failure history (3)")
        await pilot.pause()
        shown = lines(frozen)
        attempt = "Attempt 3" + (" (recoveries 2)" if recoveries else "")
        assert attempt in shown
        assert "Error: ConnectionError: database refused the connection" in shown
        heads = [line.split()[:3] for line in shown if line.startswith("attempt ")]
        assert heads == [
            ["attempt", "1", "error"],
            ["attempt", "2", "error"],
            ["attempt", "3", "error"],
        ]
        text = " ".join(shown)
        for old in ("retries", "Last error", "#1", "last_error"):
            assert old not in text
        if not recoveries:
            assert "recoveries" not in text


async def test_the_dlq_shows_the_attempt_and_the_error(frozen: JobbersApp) -> None:
    async with frozen.run_test(size=(120, 24)) as pilot:
        frozen.post_message(SnapshotFetched(frames.frame()))
        await pilot.press("3")
        await shows(frozen, "Dead letters 5")
        first = by_column(frozen, "#dlq")[0]
        assert first["attempt"] == "3"
        assert first["error"].startswith("ConnectionError: database")
        header = next(line for line in lines(frozen) if line.startswith("ID "))
        assert header.split()[3:] == ["Attempt", "Failed", "Error"]
