"""Workflows: a graph of tasks submitted in one call, where a task waits for its parents."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ConfigDict, Field

from jobbers.models.base import Model

# Defined without pydantic in jobbers.models.enums (the CLI imports them alone); re-exported.
from jobbers.models.enums import WorkflowStatus as WorkflowStatus
from jobbers.models.names import Name
from jobbers.models.task import ParentFailure, TaskStatus

# Tasks per workflow: the whole graph is stored by one script run (a few milliseconds).
MAX_WORKFLOW_TASKS = 1000


class WorkflowTaskSpec(Model):
    """One node of ``POST /submit-workflow``: a task and the keys (or ids) it waits for."""

    model_config = ConfigDict(extra="forbid")

    key: Name = Field(description="the node's name within this workflow")
    name: Name
    version: int = Field(default=1, ge=0)
    queue: Name = "default"
    parameters: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(
        default_factory=list,
        max_length=MAX_WORKFLOW_TASKS,  # a fan-in over the whole graph (a task: MAX_PARENTS)
        description="keys of this workflow, or ids of tasks already stored",
    )
    on_parent_failure: ParentFailure = ParentFailure.CANCEL
    priority: int = Field(default=5, ge=0, le=9, description="0-9, higher runs first")


class WorkflowRequest(Model):
    """Body of ``POST /submit-workflow``; ``id`` is generated when omitted."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, description="a ULID: the same id again is a no-op")
    tasks: list[WorkflowTaskSpec] = Field(min_length=1, max_length=MAX_WORKFLOW_TASKS)


class WorkflowSubmitted(Model):
    """Answer of ``POST /submit-workflow`` (201 when stored, 200 for a repeat)."""

    id: str
    tasks: dict[str, str] = Field(description="key -> task id")


class WorkflowNode(Model):
    """One node of a stored workflow with its task's current status."""

    key: str
    id: str
    name: str
    queue: str
    depends_on: list[str] = Field(description="keys of this workflow, or outside task ids")
    status: TaskStatus | None = Field(description="null once retention deleted the task")


class WorkflowSummary(Model):
    """A workflow as the listing shows it: counts, no nodes."""

    id: str
    status: WorkflowStatus
    created_at: dt.datetime | None = None
    total: int
    completed: int = 0
    failed: int = 0
    cancelled: int = 0


class Workflow(WorkflowSummary):
    """A workflow with every node (``GET /workflows/{id}``)."""

    nodes: list[WorkflowNode]

    def outline(self) -> list[tuple[int, WorkflowNode, bool]]:
        """The graph as an indented outline: (depth, node, seen before), roots first.

        Each node comes under each of its parents; a node with several parents is given
        in full under the first and only named (seen before) under the others. The one
        walk the CLI's and the TUI's trees both draw.
        """
        keys = {n.key for n in self.nodes}
        children: dict[str, list[WorkflowNode]] = {}
        for node in self.nodes:
            for dep in node.depends_on:
                if dep in keys:
                    children.setdefault(dep, []).append(node)
        out: list[tuple[int, WorkflowNode, bool]] = []
        shown: set[str] = set()
        stack = [
            (0, node)
            for node in reversed(self.nodes)
            if not any(d in keys for d in node.depends_on)
        ]
        while stack:  # depth first, iteratively: a 1,000-step chain is 1,000 levels deep
            depth, node = stack.pop()
            seen = node.key in shown
            out.append((depth, node, seen))
            if not seen:
                shown.add(node.key)
                stack += [(depth + 1, c) for c in reversed(children.get(node.key, []))]
        return out


class WorkflowCancelled(Model):
    """Answer of ``POST /workflows/{id}/cancel``."""

    id: str
    cancelled: int = Field(description="nodes cancelled at once")
    cancel_requested: int = Field(description="running nodes asked to stop")


def overall_status(total: int, completed: int, failed: int, cancelled: int) -> WorkflowStatus:
    """The workflow's outcome from its node counts."""
    if completed >= total:
        return WorkflowStatus.COMPLETED
    if completed + failed + cancelled < total:
        return WorkflowStatus.RUNNING
    return WorkflowStatus.FAILED if failed else WorkflowStatus.CANCELLED
