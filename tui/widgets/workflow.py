"""A workflow's graph as a tree with each node's status, under a progress line."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.text import Text
from rich.tree import Tree
from textual.app import RenderResult
from textual.widget import Widget

from jobbers.models.workflow import Workflow

from ..snapshot import Snapshot, WorkflowDetail
from .cells import Palette

STYLES = {"completed": "green", "failed": "bold red", "stalled": "magenta", "started": "cyan"}


def graph_tree(flow: Workflow) -> Tree:
    """Roots first, each node under its parents; a node with several parents is drawn in
    full under the first and named again under the others."""
    tree = Tree(Text(f"workflow {flow.id}", style="bold"))
    branches = [tree]
    for depth, node, seen in flow.outline():
        del branches[depth + 1 :]
        status = str(node.status or "deleted")
        label = Text.assemble(
            (node.key, "bold"), f" {node.name} ", (status, STYLES.get(status, ""))
        )
        if seen:
            branches[depth].add(Text.assemble(label, (" (above)", "dim")))
        else:
            branches.append(branches[depth].add(label))
    return tree


class WorkflowView(Widget):
    """Renders the frame's workflow: progress, counts and the tree."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__()
        self.workflow_id = workflow_id
        self.detail: WorkflowDetail | None = None

    def update(self, snapshot: Snapshot) -> None:
        """Show the frame's workflow when it is this one and it changed."""
        detail = snapshot.workflow
        if detail is None or detail.workflow_id != self.workflow_id or detail == self.detail:
            return
        self.detail = detail
        self.refresh(layout=True)

    @property
    def shown(self) -> Workflow | None:
        """The workflow shown, once fetched."""
        return self.detail.workflow if self.detail else None

    def render(self) -> RenderResult:
        """The overall status, a progress bar of ended nodes, and the graph."""
        p = Palette.of(self.app)
        if self.detail is None:
            return Text(f"Loading workflow {self.workflow_id}…", style=p.muted)
        flow = self.detail.workflow
        if flow is None:
            return Text(f"Workflow {self.workflow_id} does not exist.", style=p.warning)
        ended = flow.completed + flow.failed + flow.cancelled
        head = Text.assemble(
            ("Status ", "bold"),
            (flow.status.value, STYLES.get(flow.status.value, "")),
            f"  {flow.completed} completed, {flow.failed} failed, {flow.cancelled} cancelled"
            f" of {flow.total}",
        )
        bar = ProgressBar(total=max(flow.total, 1), completed=ended, width=40)
        parts: list[RenderableType] = [head, bar, Text(""), graph_tree(flow)]
        return Group(*parts)
