"""Workflows: submit a graph of tasks in one call, read, cancel and list them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response

from jobbers.api.schemas import TaskId
from jobbers.models.dashboard import Page
from jobbers.models.workflow import (
    Workflow,
    WorkflowCancelled,
    WorkflowRequest,
    WorkflowSubmitted,
    WorkflowSummary,
)
from jobbers.store.workflows import Workflows

from ..deps import Cursor, Limit, StateDep, check_registered, resource_router
from ..errors import responses, responses_with

router = resource_router("workflows")

WorkflowIdPath = Annotated[TaskId, Path(description="the workflow's ULID")]


@router.post(
    "/submit-workflow",
    status_code=201,
    responses=responses_with(
        200, WorkflowSubmitted, "The same workflow id and graph again", 409, 413
    ),
)
async def submit_workflow(
    body: WorkflowRequest, response: Response, state: StateDep
) -> WorkflowSubmitted:
    """Store a graph of up to 1,000 tasks all or nothing (a cycle, a dangling key or an
    invalid task is a 422 and stores nothing); the same id and graph again returns it (200).
    """
    for i, spec in enumerate(body.tasks):
        check_registered(spec.name, spec.version, "body", "tasks", i)
    submitted, created = await Workflows(state).submit(body)
    if not created:
        response.status_code = 200
    return submitted


@router.get("/workflows")
async def list_workflows(
    state: StateDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[WorkflowSummary]:
    """Workflows, newest first, with their node counts; pages follow keys, not offsets."""
    return await Workflows(state).list(limit, cursor)


@router.get("/workflows/{workflow_id}", responses=responses(404))
async def get_workflow(workflow_id: WorkflowIdPath, state: StateDep) -> Workflow:
    """The graph with each node's status and the overall status."""
    return await Workflows(state).get(workflow_id)


@router.post("/workflows/{workflow_id}/cancel", responses=responses(404))
async def cancel_workflow(workflow_id: WorkflowIdPath, state: StateDep) -> WorkflowCancelled:
    """Cancel every node not yet terminal; running ones are asked to stop."""
    return await Workflows(state).cancel(workflow_id)
