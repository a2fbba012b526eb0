"""The command palette (``:``) submits a task, creates a queue and a role on the manager."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from jobbers.tui.app import JobbersApp
from jobbers.tui.screens.forms import FormScreen
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input, Label, Select

from jobbers.api.client import JobbersClient
from jobbers.api.schemas import QueueConfig, RatePeriod, TaskStatus
from jobbers.store.facade import StateManager
from tests.conftest import eventually

from .conftest import has_rows, limits_of, shows

Top = Callable[..., JobbersApp]


async def command(app: JobbersApp, pilot: Pilot[None], title: str) -> FormScreen[object]:
    """``:``, the command's title typed, enter; returns the form it opens."""
    await pilot.press("colon")
    await eventually(lambda: isinstance(app.screen, CommandPalette), what="the palette")
    await pilot.press(*title)
    await shows(app, title)
    await pilot.press("enter")
    form = await eventually(
        lambda: app.screen if isinstance(app.screen, FormScreen) else None, what="the form"
    )
    assert isinstance(form, FormScreen)
    return form


def fill(form: FormScreen[object], **fields: str) -> None:
    """Type into the form's fields by id."""
    for key, value in fields.items():
        form.query_one(f"#{key}", Input).value = value


async def refused(
    app: JobbersApp, pilot: Pilot[None], form: FormScreen[object], message: str, **fields: str
) -> None:
    """Type ``fields`` and save: the form stays open and says ``message``."""
    fill(form, **fields)
    await pilot.press("ctrl+s")
    await shows(app, message)
    assert app.screen is form


async def closed(app: JobbersApp) -> None:
    await eventually(lambda: not isinstance(app.screen, FormScreen), what="the form closed")


@asynccontextmanager
async def with_reports(
    top: Top, client: JobbersClient
) -> AsyncIterator[tuple[JobbersApp, Pilot[None]]]:
    """The app running over a manager with a ``reports`` queue, once the overview shows it."""
    await client.create_queue(QueueConfig(name="reports"))
    app = top()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await has_rows(app, "#overview", lambda r: len(r) == 2)
        yield app, pilot


async def test_submit_a_task_with_json_parameters(
    top: Top, client: JobbersClient, state: StateManager
) -> None:
    async with with_reports(top, client) as (app, pilot):
        form = await command(app, pilot, "Submit a task")
        fill(form, name="add", parameters='{"a": 2, "b": 40}', queue="reports", priority="8")
        await pilot.press("ctrl+s")
        await closed(app)
        (row,) = (await state.list_tasks(TaskStatus.SUBMITTED, "reports")).items
        task = await state.get_task(str(row.id))
        assert (task.name, task.version, task.parameters) == ("add", 1, {"a": 2, "b": 40})
        assert task.priority == 8
        await shows(app, f"task {task.id} (add@1)")
        await has_rows(app, "#overview", lambda r: ["reports", "1"] in [x[:2] for x in r])


async def test_bad_input_stays_in_the_form_and_submits_nothing(
    top: Top, client: JobbersClient, state: StateManager
) -> None:
    app = top()
    async with app.run_test(size=(100, 30)) as pilot:
        form = await command(app, pilot, "Submit a task")
        await refused(app, pilot, form, "parameters: not JSON", name="add", parameters='{"a": 2,')
        await refused(app, pilot, form, "parameters: a JSON object", parameters="[1, 2]")
        # The manager's refusal (no such task) shows in the form too.
        await refused(app, pilot, form, "less than or equal to 9", parameters="{}", priority="12")
        fill(form, name="no_such_task", parameters="{}", priority="5")
        await pilot.press("ctrl+s")
        error = form.query_one("#error", Label)
        await eventually(lambda: "no_such_task" in str(error.render()), what="the refusal")
        assert isinstance(app.screen, FormScreen)
        await pilot.press("escape")
        await closed(app)
    assert (await state.list_tasks(TaskStatus.SUBMITTED)).items == []


async def test_create_a_queue_with_limits(
    top: Top, client: JobbersClient, state: StateManager
) -> None:
    app = top()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        form = await command(app, pilot, "Create a queue")
        fill(form, name="reports", max_concurrent="3", rate_numerator="10", rate_denominator="1")
        form.query_one("#rate_period", Select).value = "minute"
        await pilot.press("ctrl+s")
        await closed(app)
        await has_rows(app, "#overview", lambda r: [x[0] for x in r] == ["default", "reports"])
        # A second queue of the same name is refused by the manager, in the form.
        form = await command(app, pilot, "Create a queue")
        await refused(app, pilot, form, "queue 'reports' already exists", name="reports")
    assert await limits_of(state, "reports") == (3, 10, 1, RatePeriod.MINUTE)


async def test_create_a_role_reading_existing_queues(
    top: Top, client: JobbersClient, state: StateManager
) -> None:
    async with with_reports(top, client) as (app, pilot):
        form = await command(app, pilot, "Create a role")
        await refused(app, pilot, form, "no such queue: nope", name="heavy", queues="reports, nope")
        fill(form, queues="reports, default")
        await pilot.press("ctrl+s")
        await closed(app)
        await shows(app, "role heavy created: reports, default")
    assert (await state.get_role("heavy")).queues == ["reports", "default"]
