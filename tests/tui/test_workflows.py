"""Workflows in ``jobbers top``: a task's parents and children, the workflow listing, one
workflow's graph with its progress, and cancel (issue 16). Pilot against the real manager."""

from __future__ import annotations

from collections.abc import Callable

from jobbers.tui.app import JobbersApp
from jobbers.tui.screens.confirm import ConfirmScreen
from jobbers.tui.screens.detail import TaskDetailScreen
from jobbers.tui.screens.workflows import WorkflowScreen, WorkflowsScreen

from jobbers.api.client import JobbersClient
from jobbers.models.workflow import WorkflowRequest
from jobbers.store.facade import StateManager
from tests.conftest import eventually

from .conftest import has_rows, shows

Top = Callable[..., JobbersApp]

GRAPH = {
    "tasks": [
        {"key": "fetch", "name": "step"},
        {"key": "export", "name": "step", "depends_on": ["fetch"]},
        {"key": "notify", "name": "step", "depends_on": ["export"]},
    ]
}


async def test_a_task_detail_shows_its_parents_children_and_workflow(
    top: Top, client: JobbersClient
) -> None:
    await client.pause_queue("default")
    flow = await client.submit_workflow(WorkflowRequest.model_validate(GRAPH))
    fetch, export = flow.tasks["fetch"], flow.tasks["export"]
    app = top()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(TaskDetailScreen(export))
        await shows(app, "Parents", fetch, "Children", flow.tasks["notify"], "Workflow", flow.id)
        await shows(app, "waiting")
        await pilot.press("w")
        await eventually(lambda: isinstance(app.screen, WorkflowScreen), what="the workflow")
        await shows(app, "fetch step submitted", "export step waiting", "notify step waiting")


async def test_the_workflow_view_shows_progress_and_cancels(
    top: Top, client: JobbersClient, state: StateManager
) -> None:
    await client.pause_queue("default")
    flow = await client.submit_workflow(WorkflowRequest.model_validate(GRAPH))
    app = top()
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(WorkflowsScreen())
        await has_rows(app, "#workflows", lambda r: len(r) == 1 and r[0][1] == "running")
        await pilot.press("enter")
        await eventually(lambda: isinstance(app.screen, WorkflowScreen), what="the workflow")
        await shows(app, "Status running", "0 completed, 0 failed, 0 cancelled of 3")
        await pilot.press("c")
        await eventually(lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("y")
        await shows(app, "Status cancelled", "3 cancelled of 3")
        for tid in flow.tasks.values():
            assert (await state.get_task(tid)).status == "cancelled"
        await pilot.press("escape")
        await has_rows(app, "#workflows", lambda r: r[0][1] == "cancelled")
