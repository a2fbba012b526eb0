"""``jobbers workflow``: submit a graph of tasks, show it as a tree, cancel it, list them."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..app import ParsedOptionsGroup
from ..exit_codes import StillRunning, TaskNotCompleted, UsageProblem
from ..inputs import STDIN
from ..options import Cursor, Limit, Timeout, page_hint
from ..output import Column, Mode, View, clean
from ..session import Session, api_command
from ..views import STATUS_STYLES

if TYPE_CHECKING:
    from rich.tree import Tree

    from jobbers.models.workflow import Workflow

app = typer.Typer(
    cls=ParsedOptionsGroup,
    help="Workflows: graphs of tasks that wait for each other.",
    no_args_is_help=True,
)

WorkflowIdArg = Annotated[
    str, typer.Argument(metavar="ID", help="The workflow's id (a ULID)", show_default=False)
]

WORKFLOWS = View(
    [
        Column("id", lambda w: w.id),
        Column("status", lambda w: w.status, lambda w: STATUS_STYLES.get(str(w.status), "")),
        Column("total", lambda w: w.total),
        Column("completed", lambda w: w.completed, "green", label="done"),
        Column("failed", lambda w: w.failed, label="failed"),
        Column("cancelled", lambda w: w.cancelled, label="cancelled"),
        Column("created_at", lambda w: w.created_at, label="created"),
    ],
    lambda w: w.id,
)
NODES = View(
    [
        Column("key", lambda n: n.key, "bold"),
        Column("id", lambda n: n.id),
        Column("name", lambda n: n.name),
        Column("status", lambda n: n.status, lambda n: STATUS_STYLES.get(str(n.status), "")),
        Column("depends_on", lambda n: ",".join(n.depends_on), flex=True),
    ],
    lambda n: n.id,
)


def _read_graph(source: str) -> dict[str, Any]:
    import json

    try:
        text = sys.stdin.read() if source == STDIN else Path(source).read_text()
    except OSError as exc:
        raise UsageProblem(f"{source}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageProblem(f"{source}: not JSON: {exc}") from None
    if isinstance(data, list):
        data = {"tasks": data}
    if not isinstance(data, dict):
        raise UsageProblem(f"{source}: expected a JSON object with a 'tasks' list")
    return data


@app.command("submit")
@api_command
def submit(
    s: Session,
    source: Annotated[
        str, typer.Argument(metavar="FILE.json|-", help="The graph: {tasks: [...]}, or - for stdin")
    ],
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Wait for the outcome; exit 6 unless completed")
    ] = False,
    timeout: Timeout = None,
) -> None:
    """Submit a workflow (all or nothing) and print its id and each task's id."""
    from pydantic import ValidationError

    from jobbers.models.workflow import WorkflowRequest

    try:
        request = WorkflowRequest.model_validate(_read_graph(source))
    except ValidationError as exc:
        raise UsageProblem(f"{source}: {clean(str(exc))}") from None
    answer = s.call(s.api.submit_workflow(request))
    if s.out.mode is Mode.JSON:
        s.out.json(answer)
    elif s.out.mode is Mode.QUIET:
        s.out.lines([answer.id])
    else:
        s.out.lines([f"workflow\t{answer.id}", *(f"{k}\t{v}" for k, v in answer.tasks.items())])
    if wait:
        _wait(s, answer.id, timeout)


def _wait(s: Session, workflow_id: str, timeout: float | None) -> None:
    """Poll the workflow until it ends; exit 6 unless completed, 7 when the timeout passes."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.1
    while True:
        flow = s.call(s.api.get_workflow(workflow_id))
        if flow.status != "running":
            break
        if deadline is not None and time.monotonic() >= deadline:
            raise StillRunning(f"workflow {workflow_id} is still running after {timeout:g}s")
        # A client polling a remote API: the pause is the point, not synchronisation.
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    s.out.note(f"workflow {workflow_id} {flow.status}")
    if flow.status != "completed":
        raise TaskNotCompleted(f"workflow {workflow_id} ended {flow.status}")


@app.command("status")
@api_command
def status(s: Session, workflow_id: WorkflowIdArg) -> None:
    """Show a workflow as a tree of its tasks with their statuses."""
    flow = s.call(s.api.get_workflow(workflow_id))
    if s.out.mode is not Mode.TABLE:
        s.out.listing(flow, flow.nodes, NODES)
        return
    from rich.console import Console

    from ..output import colour_enabled

    console = Console(file=s.out.stdout, no_color=not colour_enabled(s.out.stdout))
    console.print(graph_tree(flow))


def graph_tree(flow: Workflow) -> Tree:
    """The workflow as a rich Tree: roots first, each child under its parents (a node with
    several parents shows under each, marked as seen after its first place)."""
    from rich.text import Text
    from rich.tree import Tree

    head = Text.assemble(
        ("workflow ", "bold"),
        flow.id,
        " ",
        (str(flow.status), STATUS_STYLES.get(str(flow.status), "")),
        f"  {flow.completed}/{flow.total} completed",
    )
    tree = Tree(head)
    branches = [tree]
    for depth, node, seen in flow.outline():
        del branches[depth + 1 :]
        status = str(node.status or "deleted")
        label = Text.assemble(
            (node.key, "bold"),
            f" {node.name} ",
            (status, STATUS_STYLES.get(str(node.status), "")),
            f"  {node.id}",
        )
        if seen:
            branches[depth].add(Text.assemble(label, (" (above)", "dim")))
        else:
            branches.append(branches[depth].add(label))
    return tree


@app.command("cancel")
@api_command
def cancel(s: Session, workflow_id: WorkflowIdArg) -> None:
    """Cancel every task of a workflow that has not ended yet."""
    answer = s.call(s.api.cancel_workflow(workflow_id))
    s.out.done(
        answer,
        f"workflow {answer.id}: {answer.cancelled} cancelled, "
        f"{answer.cancel_requested} asked to stop",
        [answer.id],
    )


@app.command("list")
@api_command
def list_workflows(s: Session, limit: Limit = 50, cursor: Cursor = None) -> None:
    """List workflows, newest first, with their progress."""
    page = s.call(s.api.list_workflows(limit, cursor))
    s.out.listing(page, page.items, WORKFLOWS)
    page_hint(s, page.next_cursor)
