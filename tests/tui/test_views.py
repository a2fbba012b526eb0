"""Every view shows the right rows from a real manager with live tasks."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

import pytest
from jobbers.tui.app import JobbersApp
from jobbers.tui.screens import base
from jobbers.tui.screens.help import HelpScreen
from jobbers.tui.widgets.header import ViewTabs

from jobbers.api.client import JobbersClient
from jobbers.api.schemas import QueueConfig, QueueStrategy, RatePeriod, Role
from jobbers.runtime.cleaner import Cleaner
from jobbers.store.facade import StateManager
from tests.conftest import eventually

from .conftest import (
    CountingTransport,
    by_column,
    filter_by,
    has_rows,
    keys,
    rows,
    screen_text,
    shows,
    submit,
    table,
)

Top = Callable[..., JobbersApp]


async def test_overview_shows_each_queue_with_depth_limits_and_totals(
    top: Top, client: JobbersClient
) -> None:
    await client.create_queue(
        QueueConfig(
            name="reports",
            max_concurrent=5,
            rate_numerator=100,
            rate_denominator=1,
            rate_period=RatePeriod.HOUR,
        )
    )
    await client.pause_queue("reports")
    for _ in range(3):
        await submit(client, queue="reports")
    app = top()
    async with app.run_test(size=(80, 24)):
        found = await has_rows(app, "#overview", lambda r: len(r) == 2)
        by_name = {r[0].removeprefix("‖ "): r for r in found}
        assert by_name["reports"][0] == "‖ reports"  # paused, at a glance
        assert by_name["reports"][1:4] == ["3", "0", "0"]
        assert by_name["reports"][7] == "≤5 100/h"
        assert by_name["default"][1] == "0"
        screen = await shows(app, "Depth 3", "Workers 0", "http://manager.test", "refreshed")
        assert "DLQ 0" in screen


async def test_overview_counts_throughput_and_drills_into_running_tasks(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any]
) -> None:
    await start_worker()
    for i in range(5):
        await submit(client, parameters={"a": i, "b": 1})
    forever = await submit(client, "forever")
    app = top()
    async with app.run_test(size=(120, 24)) as pilot:
        # Five done in the last minute, the forever task running.
        await has_rows(app, "#overview", lambda r: bool(r) and r[0][2:5:2] == ["1", "5"])
        assert by_column(app, "#overview")[0]["spark_done"].strip() != ""  # a bar
        await pilot.press("enter")
        await has_rows(app, "#running", lambda r: len(r) == 1)
        assert keys(app, "#running") == [forever]
        assert "filter: queue:default" in screen_text(app)


async def test_running_view_shows_progress_heartbeat_and_late_heartbeats(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any], state: StateManager
) -> None:
    await start_worker()
    beating = await submit(client, "beater", parameters={"steps": 10_000, "step_s": 0.05})
    hung = await submit(client, "beater", parameters={"steps": 1, "step_s": 0.01, "hang": True})
    quiet = await submit(client, "forever")
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")

        def by_key() -> dict[str, list[str]]:
            return dict(zip(keys(app, "#running"), rows(app, "#running"), strict=True))

        await has_rows(app, "#running", lambda r: len(r) == 3 and "LATE" in str(r))
        found = by_key()
        assert found[beating][1] == "beater@1"
        assert "%" in found[beating][5] and "/1.0s" in found[beating][6]
        assert "LATE" not in found[beating][6]
        assert found[hung][5].endswith("100%") and found[hung][6].endswith("LATE")
        assert found[quiet][5] == "" and "/" not in found[quiet][6]  # no progress, no limit
        # The cleaner marks the silent task stalled: it leaves the running table for the
        # stalled one beneath it.
        await Cleaner(state).run_once()
        await has_rows(app, "#stalled", lambda r: len(r) == 1)
        assert keys(app, "#stalled") == [hung]
        assert hung not in keys(app, "#running")
        assert "stalled 1" in screen_text(app)


async def test_dlq_view_lists_dead_letters_and_filters_by_name_queue_and_version(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any], state: StateManager
) -> None:
    await client.create_queue(QueueConfig(name="other"))
    await client.create_role(Role(name="all", queues=["default", "other"]))
    await start_worker(role="all")
    booms = [await submit(client, "boom") for _ in range(2)]
    other = await submit(client, "boom", queue="other")
    flaky = await submit(client, "flaky", parameters={})
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        found = await has_rows(app, "#dlq", lambda r: len(r) == 4)
        assert {r[2] for r in found} == {"boom@1", "flaky@1"}
        assert set(keys(app, "#dlq")) == {*booms, other, flaky}
        await shows(app, "Dead letters 4")

        await pilot.press("slash", *"name:boom", "enter")
        await has_rows(app, "#dlq", lambda r: len(r) == 3)
        assert set(keys(app, "#dlq")) == {*booms, other}

        await filter_by(pilot, "queue:other")
        await has_rows(app, "#dlq", lambda r: len(r) == 1)
        assert keys(app, "#dlq") == [other]

        await filter_by(pilot, "version:2")
        await has_rows(app, "#dlq", lambda r: r == [])

        await pilot.press("escape")  # clears the filter
        await has_rows(app, "#dlq", lambda r: len(r) == 4)


async def test_workers_view_shows_each_live_worker(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any]
) -> None:
    await start_worker(concurrency=4)
    await submit(client, "forever")
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        await has_rows(app, "#workers", lambda r: len(r) == 1 and "1/4" in r[0])
        found = by_column(app, "#workers")[0]
        assert (found["role"], found["busy"]) == ("default", "1/4")
        # At 80 columns the id names the worker (host and pid), cut in the middle if long.
        (worker,) = (await client.workers()).workers
        assert (worker.host, worker.pid) == (socket.gethostname(), os.getpid())
        head, _, tail = found["id"].partition("…")
        assert worker.id.startswith(head) and worker.id.endswith(tail)
        await shows(app, "Workers 1 live", "1 tasks in flight")


async def test_workers_view_shows_totals_per_host_and_per_role(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any]
) -> None:
    await client.create_role(Role(name="all", queues=["default"]))
    await start_worker(concurrency=4)
    await start_worker(role="all", concurrency=2)
    await submit(client, "forever")
    app = top()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("4")
        await has_rows(app, "#workers", lambda r: len(r) == 2)
        host = socket.gethostname()
        await shows(app, f"Hosts  {host} 2 · 1/6 busy")
        screen = await shows(app, "Roles  all 1 ·", "default 1 ·")
        assert "/2 busy" in screen and "/4 busy" in screen


async def test_queues_view_shows_settings_and_roles(top: Top, client: JobbersClient) -> None:
    await client.create_queue(QueueConfig(name="reports", max_concurrent=2))
    await client.create_role(
        Role(
            name="heavy",
            queues=["reports", "default"],
            strategy=QueueStrategy.WEIGHTED,
            weights={"reports": 3},
        )
    )
    await client.pause_queue("reports")
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        found = await has_rows(app, "#queues", lambda r: len(r) == 2)
        assert found[1][:3] == ["reports", "paused", "2"]
        assert found[1][5] == "heavy"
        roles = await has_rows(app, "#roles", lambda r: len(r) == 2)
        assert roles[1] == ["heavy", "0", "weighted 3:1", "reports, default"]


async def test_task_detail_shows_parameters_results_and_error_history(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any], state: StateManager
) -> None:
    await start_worker()
    dead = await submit(client, "flaky", parameters={"succeed_on": 99})
    app = top(refresh=0.1)
    async with app.run_test(size=(100, 60)) as pilot:
        await pilot.press("3")
        await has_rows(app, "#dlq", lambda r: len(r) == 1)
        await pilot.press("enter")
        screen = await shows(app, dead, "in the dead-letter queue", "Failure history (4)")
        assert '"succeed_on": 99' in screen
        assert "Flaky: attempt 3 failed" in screen
        assert "Traceback (most recent call last)" in screen
        await pilot.press("escape")
        await has_rows(app, "#dlq", lambda r: len(r) == 1)

    done = await submit(client, "add", parameters={"a": 2, "b": 3})
    await eventually(lambda: state.get_task(done), what="task stored")
    app = top()
    async with app.run_test(size=(100, 40)):
        from jobbers.tui.screens.detail import TaskDetailScreen

        await app.push_screen(TaskDetailScreen(done))
        await shows(app, "Results", '"sum": 5', "completed")


async def test_filter_narrows_the_running_page_by_text(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any]
) -> None:
    await start_worker()
    forever = await submit(client, "forever")
    beater = await submit(client, "beater", parameters={"steps": 10_000})
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await has_rows(app, "#running", lambda r: len(r) == 2)
        await filter_by(pilot, "forev")
        await has_rows(app, "#running", lambda r: len(r) == 1)
        assert keys(app, "#running") == [forever]
        await filter_by(pilot, "name:beater")
        await has_rows(app, "#running", lambda r: len(r) == 1)
        assert keys(app, "#running") == [beater]


async def test_refresh_keeps_the_selected_row_while_rows_come_and_go(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any]
) -> None:
    await start_worker(concurrency=50)
    ids = [await submit(client, "forever") for _ in range(5)]
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await has_rows(app, "#running", lambda r: len(r) == 5)
        await pilot.press("down", "down", "down")
        chosen = keys(app, "#running")[3]
        # An earlier row goes away and new ones arrive: the cursor stays on the same task.
        await client.cancel_task(ids[0])
        for _ in range(3):
            await submit(client, "forever")
        await has_rows(app, "#running", lambda r: len(r) == 7)
        running = table(app, "#running")
        assert keys(app, "#running")[running.cursor_row] == chosen


async def test_a_frame_costs_stats_plus_one_page_however_many_tasks(
    top: Top, client: JobbersClient, transport: CountingTransport
) -> None:
    await client.pause_queue("default")
    for _ in range(300):
        await submit(client)
    app = top(refresh=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await has_rows(app, "#running", lambda r: r == [])
        transport.calls.clear()
        await eventually(lambda: transport.calls["GET /stats"] >= 5, what="five frames")
        frames = transport.calls["GET /stats"]
        per_frame = {path: n / frames for path, n in transport.calls.items()}
        assert set(per_frame) <= {"GET /stats", "GET /active-tasks", "GET /task-list"}
        assert all(0.8 <= v <= 1.2 for v in per_frame.values()), per_frame


async def test_help_lists_the_keys_of_every_view(top: Top) -> None:
    app = top()
    async with app.run_test(size=(100, 80)) as pilot:
        await pilot.press("question_mark")
        screen = await shows(app, "Everywhere", "Overview", "Filter")
        for words in ("Cancel", "Retry stalled", "Mark", "Resubmit", "Delete", "Purge"):
            assert words in screen
        await pilot.press("escape")
        await eventually(lambda: not isinstance(app.screen, HelpScreen), what="help closed")


async def test_f_pauses_the_refresh_and_resumes_it(
    top: Top, client: JobbersClient, transport: CountingTransport
) -> None:
    app = top(refresh=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await eventually(lambda: transport.calls["GET /stats"] >= 2, what="frames")
        await pilot.press("f")
        await shows(app, "FROZEN")
        frozen_at = transport.calls["GET /stats"]
        await submit(client)
        # Ten ticks of a timer beside the app's own (same interval, same loop) later: not
        # one more frame, and the old depth still shown.
        ticks: list[int] = []
        app.set_interval(0.05, lambda: ticks.append(1))
        await eventually(lambda: len(ticks) >= 10, what="ten ticks")
        assert transport.calls["GET /stats"] <= frozen_at + 1  # at most the one in flight
        assert rows(app, "#overview")[0][1] == "0"
        await pilot.press("f")
        await has_rows(app, "#overview", lambda r: r[0][1] == "1")


async def test_paging_through_the_dlq(
    top: Top,
    client: JobbersClient,
    start_worker: Callable[..., Any],
    state: StateManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(base, "PAGE_LIMIT", 3)
    await start_worker()
    ids = [await submit(client, "boom") for _ in range(5)]
    await eventually(lambda: _dead(state, 5), what="five dead letters")
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await has_rows(app, "#dlq", lambda r: len(r) == 3)
        await shows(app, "(more: ])")
        page_one = keys(app, "#dlq")
        await pilot.press("right_square_bracket")
        await has_rows(app, "#dlq", lambda r: len(r) == 2)
        assert set(page_one) | set(keys(app, "#dlq")) == set(ids)
        await shows(app, "page 2")
        await pilot.press("left_square_bracket")
        await has_rows(app, "#dlq", lambda r: len(r) == 3)
        assert keys(app, "#dlq") == page_one


async def _dead(state: StateManager, count: int) -> bool:
    return len((await state.list_dlq(limit=100)).items) >= count


async def test_no_color_makes_the_app_monochrome(top: Top, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = top()
    async with app.run_test(size=(80, 24)):
        await has_rows(app, "#overview", lambda r: len(r) == 1)
        assert app.no_color


async def test_the_mouse_switches_views_and_opens_a_row(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any]
) -> None:
    await start_worker()
    tid = await submit(client, "forever")
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await has_rows(app, "#overview", lambda r: len(r) == 1)
        # "2 Running" is the second tab, from column 12 of the first line.
        assert await pilot.click(ViewTabs, offset=(14, 0))
        await has_rows(app, "#running", lambda r: len(r) == 1)
        # A click on the highlighted row selects it, like enter.
        assert await pilot.click("#running", offset=(3, 1))
        await shows(app, f"Task {tid}", "forever@1 on queue default")
