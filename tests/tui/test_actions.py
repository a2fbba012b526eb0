"""Every action changes the server's state, and only after a confirmation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobbers.tui.app import JobbersApp
from jobbers.tui.screens.confirm import ConfirmScreen
from textual.pilot import Pilot
from textual.widgets import Input, Select

from jobbers.api.client import JobbersClient
from jobbers.api.schemas import QueueConfig, QueueStrategy, RatePeriod, Role
from jobbers.runtime.cleaner import Cleaner
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status

from .conftest import has_rows, keys, limits_of, rows, shows, submit, table

Top = Callable[..., JobbersApp]


async def answer(app: JobbersApp, pilot: Pilot[None], key: str) -> None:
    """Wait for the confirmation question, then answer it with ``key``."""
    await eventually(lambda: isinstance(app.screen, ConfirmScreen), what="the question")
    await pilot.press(key)


async def in_dlq(state: StateManager) -> set[str]:
    """The ids the DLQ holds now."""
    return {str(t.id) for t in (await state.list_dlq(limit=100)).items}


async def test_cancel_a_running_task_after_confirming(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any], state: StateManager
) -> None:
    await start_worker()
    keep = await submit(client, "forever")
    doomed = await submit(client, "forever")
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await has_rows(app, "#running", lambda r: len(r) == 2)
        table(app, "#running").move_cursor(row=keys(app, "#running").index(doomed))

        await pilot.press("c")
        await answer(app, pilot, "n")  # no: nothing happens
        await eventually(lambda: not isinstance(app.screen, ConfirmScreen), what="closed")
        await pilot.press("c")
        await eventually(lambda: isinstance(app.screen, ConfirmScreen), what="question")
        assert (await state.get_task(doomed)).status == "started"
        await pilot.press("y")

        await wait_status(state, doomed, "cancelled")
        await has_rows(app, "#running", lambda r: len(r) == 1)
        assert keys(app, "#running") == [keep]
        assert (await state.get_task(keep)).status == "started"


async def test_retry_a_stalled_task(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any], state: StateManager
) -> None:
    await start_worker()
    hung = await submit(client, "beater", parameters={"steps": 1, "step_s": 0.01, "hang": True})
    await eventually(lambda: _stalled(state, hung), what="the cleaner marking it stalled")
    # Nothing reads the queue now, so the retried task is seen waiting.
    await client.pause_queue("default")
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await has_rows(app, "#stalled", lambda r: len(r) == 1)
        app.screen.query_one("#stalled").focus()
        await pilot.press("r")
        await answer(app, pilot, "y")
        await wait_status(state, hung, "submitted")
        await has_rows(app, "#stalled", lambda r: r == [])


async def _stalled(state: StateManager, task_id: str) -> bool:
    """One cleaner pass; True once it has marked the task stalled (its heartbeat is late)."""
    await Cleaner(state).run_once()
    return (await state.get_task(task_id)).status == "stalled"


async def test_dlq_resubmit_one_and_delete_a_marked_selection(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any], state: StateManager
) -> None:
    await start_worker()
    ids = [await submit(client, "boom") for _ in range(4)]
    await eventually(lambda: _all_dead(state, ids), what="four dead letters")
    await client.pause_queue("default")  # resubmitted tasks stay put, to be counted
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await has_rows(app, "#dlq", lambda r: len(r) == 4)
        shown = keys(app, "#dlq")

        # Resubmit the row under the cursor.
        await pilot.press("r")
        await answer(app, pilot, "y")
        await wait_status(state, shown[0], "submitted")
        assert shown[0] not in await in_dlq(state)
        await has_rows(app, "#dlq", lambda r: len(r) == 3)

        # Mark two rows (space marks and moves down), delete both after a confirmation.
        await pilot.press("home", "space", "space")
        marked = rows(app, "#dlq")
        assert [r[0] for r in marked] == ["●", "●", " "]
        await pilot.press("d")
        await answer(app, pilot, "y")
        await eventually(lambda: _dlq_is(state, {shown[3]}), what="two deleted")
        await has_rows(app, "#dlq", lambda r: len(r) == 1)
        assert keys(app, "#dlq") == [shown[3]]


async def _all_dead(state: StateManager, ids: list[str]) -> bool:
    return set(ids) <= await in_dlq(state)


async def _dlq_is(state: StateManager, expected: set[str]) -> bool:
    return await in_dlq(state) == expected


async def test_resubmit_from_the_detail_modal(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any], state: StateManager
) -> None:
    await start_worker()
    dead = await submit(client, "boom")
    await eventually(lambda: _all_dead(state, [dead]), what="a dead letter")
    await client.pause_queue("default")
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await has_rows(app, "#dlq", lambda r: len(r) == 1)
        await pilot.press("enter")
        await shows(app, "ValueError: unexpected failure", "r Retry")
        await pilot.press("r")
        await answer(app, pilot, "y")
        await wait_status(state, dead, "submitted")
        await shows(app, "submitted")
        assert dead not in await in_dlq(state)


async def test_edit_a_queue_in_the_form(
    top: Top, client: JobbersClient, state: StateManager
) -> None:
    await client.create_queue(QueueConfig(name="reports", max_concurrent=2))
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await has_rows(app, "#queues", lambda r: len(r) == 2)
        await pilot.press("down", "e")
        await shows(app, "Queue reports: limits")
        await pilot.press("ctrl+u", "7", "tab", "1", "0", "0", "tab", "2")
        app.screen.query_one("#rate_period", Select).value = "minute"
        await pilot.press("ctrl+s")
        await has_rows(app, "#queues", lambda r: r[1][2:4] == ["7", "100/2m"])
    assert await limits_of(state, "reports") == (7, 100, 2, RatePeriod.MINUTE)


async def test_the_queue_form_refuses_a_rate_without_a_period(
    top: Top, client: JobbersClient, state: StateManager
) -> None:
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await has_rows(app, "#queues", lambda r: len(r) == 1)
        await pilot.press("e", "tab", "9", "ctrl+s")
        await shows(app, "rate_numerator needs rate_period")
        await pilot.press("escape")
        await eventually(lambda: app.screen.query("#queues"), what="form closed")
    assert (await state.get_queue("default")).rate_numerator is None


async def test_edit_a_roles_queues_in_the_form(
    top: Top, client: JobbersClient, state: StateManager
) -> None:
    await client.create_queue(QueueConfig(name="reports"))
    await client.create_role(Role(name="heavy", queues=["default"], strategy=QueueStrategy.STRICT))
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await has_rows(app, "#roles", lambda r: len(r) == 2 and r[1][2] == "strict")
        app.screen.query_one("#roles").focus()
        await pilot.press("down", "e")
        await shows(app, "Role heavy", "Existing queues: default, reports")
        app.screen.query_one("#queues", Input).value = "reports, default"
        await pilot.press("enter")
        await has_rows(app, "#roles", lambda r: r[1][3] == "reports, default")
    edited = await state.get_role("heavy")
    assert (edited.queues, edited.strategy) == (["reports", "default"], QueueStrategy.STRICT)


async def test_pause_resume_and_purge_a_queue(
    top: Top, client: JobbersClient, state: StateManager
) -> None:
    waiting = [await submit(client) for _ in range(3)]
    app = top()
    async with app.run_test(size=(80, 24)) as pilot:
        await has_rows(app, "#overview", lambda r: len(r) == 1 and r[0][1] == "3")
        await pilot.press("p")
        await has_rows(app, "#overview", lambda r: r[0][0] == "‖ default")
        assert (await state.get_queue("default")).paused
        await pilot.press("p")
        await has_rows(app, "#overview", lambda r: r[0][0] == "default")
        assert not (await state.get_queue("default")).paused

        await pilot.press("x")
        await shows(app, "Purge queue default? Its 3 waiting tasks will be cancelled.")
        await answer(app, pilot, "y")
        await has_rows(app, "#overview", lambda r: r[0][1] == "0")
    for tid in waiting:
        assert (await state.get_task(tid)).status == "cancelled"


async def test_a_failed_action_is_a_toast_not_a_crash(
    top: Top, client: JobbersClient, start_worker: Callable[..., Any], state: StateManager
) -> None:
    await start_worker()
    tid = await submit(client, "forever")
    app = top()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("2")
        await has_rows(app, "#running", lambda r: len(r) == 1)
        app.autopoll = False  # freeze the rows, then let the task finish behind our back
        await client.cancel_task(tid)
        await wait_status(state, tid, "cancelled")
        await pilot.press("c")
        await answer(app, pilot, "y")
        await shows(app, "Cancel failed", "cannot be cancelled")
        assert app.is_running
