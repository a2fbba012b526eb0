"""The pure parts: cell formatting, the filter language, depth history, frame coalescing."""

from __future__ import annotations

import datetime as dt

import pytest
from jobbers.tui.messages import PollFailed, SnapshotFetched
from jobbers.tui.snapshot import DepthHistory, TaskFilter
from jobbers.tui.widgets.cells import (
    Palette,
    duration,
    heartbeat,
    middle,
    progress_bar,
    rate,
    short_id,
    sparkline,
)
from jobbers.tui.widgets.table import PADDING, SCROLLBAR, Col, fit
from rich.style import Style

from jobbers.api.schemas import QueueStats, Stats

from . import frames

PALETTE = Palette(
    error=Style(color="red"),
    warning=Style(color="yellow"),
    success=Style(color="green"),
    accent=Style(color="cyan"),
    muted=Style(dim=True),
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0.04, "0.0s"),
        (9.4, "9.4s"),
        (12.4, "12s"),
        (60, "1m"),
        (185, "3m05s"),
        (3600, "1h"),
        (7380, "2h03m"),
        (90000, "1d01h"),
        (-3, "0.0s"),
    ],
)
def test_durations_are_compact(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_heartbeat_is_coloured_near_and_past_its_limit() -> None:
    assert heartbeat(2, 60, PALETTE).plain == "2.0s/1m"
    assert heartbeat(2, 60, PALETTE).style == ""  # plain: nothing to worry about
    assert heartbeat(50, 60, PALETTE).style == PALETTE.warning
    late = heartbeat(130, 60, PALETTE)
    assert (late.plain, late.style) == ("2m10s LATE", PALETTE.error)
    assert heartbeat(5, None, PALETTE).plain == "5.0s"  # no limit, nothing to be late for
    assert heartbeat(None, 60, PALETTE).plain == "—"


def test_sparkline_buckets_long_series_and_right_aligns_short_ones() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8).plain == "▁▂▃▄▅▆▇█"
    assert sparkline([0, 0, 0], 3).plain == "▁▁▁"
    assert sparkline([5], 4).plain == "   █"
    assert sparkline(list(range(100)), 10).plain[-1] == "█"
    assert len(sparkline(list(range(180)), 7).plain) == 7


def test_progress_rate_and_ids() -> None:
    assert progress_bar(0.5, None, 9).plain == "██░░  50%"
    assert progress_bar(None, "warming up", 9).plain == "warming …"
    assert progress_bar(2.0, None, 9).plain.endswith("100%")
    assert rate(100, 1, "hour", 5) == "≤5 100/h"
    assert rate(100, 2, "minute", None) == "100/2m"
    assert rate(None, None, None, None) == "—"
    assert short_id("01JBKR2E5F3G4H5J6K7N8M0001", 7) == "…8M0001"
    assert short_id("abc", 7) == "abc"


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("", TaskFilter()),
        ("boom", TaskFilter(text="boom")),
        ("name:boom queue:default version:2", TaskFilter("", "boom", "default", 2)),
        ("n:boom q:reports v:1 late", TaskFilter("late", "boom", "reports", 1)),
        ("v:x queue:", TaskFilter(text="v:x queue:")),
    ],
)
def test_the_filter_language(typed: str, parsed: TaskFilter) -> None:
    assert TaskFilter.parse(typed) == parsed
    assert TaskFilter.parse(str(parsed)) == parsed  # shown as typed, read back the same


def test_free_text_matches_any_field_case_insensitively() -> None:
    f = TaskFilter(text="Boom")
    assert f.matches("x", "boom@1")
    assert not f.matches("x", None)
    assert TaskFilter().matches()


def test_depth_history_is_a_ring_per_queue() -> None:
    history = DepthHistory(size=3)

    def stats(**depths: int) -> Stats:
        queues = [QueueStats(name=n, depth=d) for n, d in depths.items()]
        return Stats(now=frames.NOW, workers=0, dlq=0, statuses={}, queues=queues)

    for depth in range(5):
        series = history.record(stats(a=depth, b=10))
    assert series == {"a": (2, 3, 4), "b": (10, 10, 10)}
    assert history.record(stats(a=7)) == {"a": (3, 4, 7)}  # a queue deleted is forgotten


def test_frames_coalesce_but_a_failure_never_hides_the_frame_before_it() -> None:
    frame = SnapshotFetched(frames.frame())
    newer = SnapshotFetched(frames.frame())
    failure = PollFailed("connection refused", dt.datetime.now(dt.UTC), True)
    # ``old.can_replace(new)``: Textual drops ``old`` when a ``new`` one is queued after it.
    assert frame.can_replace(newer)
    assert not frame.can_replace(failure)
    assert failure.can_replace(newer)
    assert failure.can_replace(PollFailed("again", dt.datetime.now(dt.UTC), True))


def test_run_is_what_the_cli_calls() -> None:
    """``jobbers top`` calls ``jobbers.tui.app.run(url, refresh)`` lazily."""
    import inspect

    from jobbers.tui.app import run

    assert list(inspect.signature(run).parameters) == ["url", "refresh"]


COLS = [
    Col("id", "ID", 26, least=7, snap=True),
    Col("task", "Task", 24, least=12),
    Col("beat", "Beat", 11),
    Col("message", "Message", 12, least=10, drop=1, grow=True),
]


@pytest.mark.parametrize("width", range(40, 241, 7))
def test_fit_never_takes_more_than_the_width(width: int) -> None:
    cols = fit(COLS, width)
    floors = sum(c.floor + PADDING for c in COLS if not c.drop) + SCROLLBAR
    used = sum(c.width + PADDING for c in cols) + SCROLLBAR
    assert used <= width or used == floors  # only a terminal too narrow for the floors
    assert {"id", "task", "beat"} <= {c.key for c in cols}
    grow = [c for c in cols if c.grow]
    assert not grow or used == width  # whatever is left goes to the message


def test_fit_drops_first_squeezes_next_and_snaps_ids() -> None:
    by_key = {c.key: c.width for c in fit(COLS, 45)}
    assert "message" not in by_key  # dropped: the floors of all four need 49 cells
    assert by_key["id"] == 7  # an id is whole or its tail, nothing in between
    assert by_key["task"] == 20  # squeezed from 24 to fit the 45
    wide = {c.key: c.width for c in fit(COLS, 200)}
    assert wide["id"] == 26 and wide["task"] == 24 and wide["message"] > 12


def test_middle_keeps_the_head_and_more_of_the_tail() -> None:
    assert middle("ops-host-1-4100-7Q2K90", 30) == "ops-host-1-4100-7Q2K90"
    assert middle("ops-host-1-4100-7Q2K90", 13) == "ops-…0-7Q2K90"
    assert len(middle("x" * 100, 13)) == 13
