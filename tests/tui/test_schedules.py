"""The schedules view (key 7): next and last fire, overlap; pause/resume and trigger keys."""

from __future__ import annotations

from collections.abc import Callable

from jobbers.tui.app import JobbersApp

from jobbers.models.schedule import Schedule
from jobbers.store.facade import StateManager
from tests.conftest import eventually

from .conftest import by_column, has_rows, keys, shows
from .test_actions import answer

Top = Callable[..., JobbersApp]


async def test_the_schedules_view_shows_and_acts(top: Top, state: StateManager) -> None:
    for name, rule in (("hourly", {"every": 3600}), ("nightly", {"cron": "0 3 * * *"})):
        body = {"name": name, "task": {"name": "add"}, "overlap": "allow", **rule}
        await state.create_schedule(Schedule.model_validate(body))
    await state.set_schedule_enabled("nightly", False)
    app = top()
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.press("7")
        await has_rows(app, "#schedules", lambda r: len(r) == 2)
        assert keys(app, "#schedules") == ["hourly", "nightly"]
        hourly, nightly = by_column(app, "#schedules")
        assert hourly["rule"] == "every 1h" and hourly["state"] == "on"
        assert hourly["next"] not in ("", "—") and hourly["last"] == "—"
        assert hourly["overlap"] == "allow"
        assert nightly["state"] == "paused" and nightly["next"] == "—"
        await shows(app, "Schedules 2 · paused 1")

        # t on the first row: after a yes, the task runs now and the row shows it.
        await pilot.press("t")
        await answer(app, pilot, "y")
        view = await eventually(
            lambda: _fired(state, "hourly"), what="the trigger to reach the manager"
        )
        await has_rows(app, "#schedules", lambda r: by_column(app, "#schedules")[0]["last"] != "—")
        assert by_column(app, "#schedules")[0]["outcome"] == "triggered"
        assert view.last_task_id is not None

        # p on the second row resumes it; p again pauses it.
        await pilot.press("down", "p")
        await eventually(lambda: _enabled(state, "nightly"), what="resumed")
        await has_rows(
            app, "#schedules", lambda r: by_column(app, "#schedules")[1]["state"] == "on"
        )
        await pilot.press("p")
        await eventually(lambda: _paused(state, "nightly"), what="paused again")


async def _fired(state: StateManager, name: str) -> object:
    view = await state.get_schedule(name)
    return view if view.last_task_id else None


async def _enabled(state: StateManager, name: str) -> bool:
    return (await state.get_schedule(name)).enabled


async def _paused(state: StateManager, name: str) -> bool:
    return not (await state.get_schedule(name)).enabled
