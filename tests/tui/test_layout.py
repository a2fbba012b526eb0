"""Every view fits the terminal's width: nothing scrolls sideways, the useful columns stay.

These render the fixed frame of ``frames.py`` (no manager needed): what is checked is the
layout, at the three widths operators use most and at the odd ones in between.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from jobbers.tui.app import JobbersApp
from jobbers.tui.messages import SnapshotFetched
from jobbers.tui.widgets.table import LiveTable

from jobbers.api.client import JobbersClient

from . import frames
from .conftest import screen_text

WIDTHS = [80, 100, 120, 160, 200]
VIEWS = {
    "1": "#overview",
    "2": "#running",
    "3": "#dlq",
    "4": "#workers",
    "5": "#queues",
    "6": "#scheduled",
}
# The columns each view must keep at every width: what an operator looks at first.
KEEP = {
    "#overview": {"name", "depth", "running", "done", "failed", "dlq", "limits"},
    "#running": {"id", "task", "queue", "worker", "elapsed", "progress", "heartbeat"},
    "#stalled": {"id", "task", "queue", "beat"},
    "#dlq": {"mark", "id", "task", "queue", "attempt", "failed", "error"},
    "#workers": {"id", "role", "uptime", "busy", "processed", "failed", "seen"},
    "#queues": {"name", "state", "concurrency", "rate", "depth", "roles"},
    "#roles": {"name", "workers", "queues"},
    "#scheduled": {"id", "task", "queue", "attempt", "due", "at"},
}


@pytest.fixture
async def frozen() -> AsyncIterator[JobbersApp]:
    """The app with polling off, its clock frozen (the frame is posted by each test)."""
    async with JobbersClient("http://127.0.0.1:8000") as client:
        yield JobbersApp(client, 1.0, clock=frames.clock, autopoll=False)


@pytest.mark.parametrize("width", WIDTHS)
async def test_no_view_scrolls_sideways_and_the_useful_columns_stay(
    frozen: JobbersApp, width: int
) -> None:
    async with frozen.run_test(size=(width, 30)) as pilot:
        frozen.post_message(SnapshotFetched(frames.frame()))
        for key in VIEWS:
            await pilot.press(key)
            await pilot.pause()
            for table in frozen.screen.query(LiveTable):
                if not table.display:
                    continue
                name = f"#{table.id}"
                shown = {str(k.value) for k in table.columns}
                assert KEEP[name] <= shown, f"{name} at {width}: {KEEP[name] - shown} missing"
                used = sum(c.get_render_width(table) for c in table.columns.values())
                room = table.scrollable_content_region.width
                assert used <= room, f"{name} at {width}: {used} cells in {room}"
                assert table.max_scroll_x == 0, f"{name} scrolls sideways at {width}"


@pytest.mark.parametrize("width", [80, 120, 200])
async def test_late_heartbeats_and_progress_are_on_screen(frozen: JobbersApp, width: int) -> None:
    """What was cut at 120 columns: the progress percentage and the heartbeat column."""
    async with frozen.run_test(size=(width, 30)) as pilot:
        frozen.post_message(SnapshotFetched(frames.frame()))
        await pilot.press("2")
        await pilot.pause()
        text = screen_text(frozen)
        for shown in ("Heartbeat", "2m10s LATE", "48s/1m", "62%", "100%"):
            assert shown in text, f"{shown!r} not shown at {width}"


async def test_long_text_is_cut_with_an_ellipsis(frozen: JobbersApp) -> None:
    """A long task name or error ends in ``…`` in its own column, and pushes nothing out."""
    frame = frames.frame()
    assert frame.dlq is not None and frame.active is not None
    long = "a_remarkably_long_task_name_that_goes_on_and_on_" * 2
    frame.dlq.items[0].name = long
    frame.dlq.items[0].last_error = "E" * 500
    frame.active.items[0].name = long
    async with frozen.run_test(size=(120, 30)) as pilot:
        frozen.post_message(SnapshotFetched(frame))
        for key, selector in (("2", "#running"), ("3", "#dlq")):
            await pilot.press(key)
            await pilot.pause()
            table = frozen.screen.query_one(selector, LiveTable)
            first = dict(
                zip([str(k.value) for k in table.columns], table.get_row_at(0), strict=True)
            )
            assert first["task"].plain.endswith("…")
            assert len(first["task"].plain) == table.width_of("task")
            assert table.max_scroll_x == 0
        assert first["error"].plain.endswith("…")


async def test_a_resize_lays_the_columns_out_again(frozen: JobbersApp) -> None:
    async with frozen.run_test(size=(200, 30)) as pilot:
        frozen.post_message(SnapshotFetched(frames.frame()))
        await pilot.press("2")
        await pilot.pause()
        table = frozen.screen.query_one("#running", LiveTable)
        assert table.width_of("id") == 26
        for width in (120, 80, 160):
            await pilot.resize_terminal(width, 30)
            await pilot.pause()
            assert table.max_scroll_x == 0, f"scrolls sideways at {width}"
            assert {"progress", "heartbeat"} <= {str(k.value) for k in table.columns}
            row = table.get_row_at(0)
            assert len(row) == len(table.columns)  # rows re-rendered for the new columns
