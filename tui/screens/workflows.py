"""Workflows: the listing (enter opens one) and one workflow's graph, live, with cancel."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from ..snapshot import PageQuery, Snapshot, View
from ..widgets.workflow import WorkflowView
from .base import LiveModal, RecordModal

PAGE = 100


class WorkflowsScreen(LiveModal):
    """The newest workflows with their progress; enter opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Back")]

    def heading(self) -> str:
        """The listing's title."""
        return "Workflows"

    def compose_body(self) -> ComposeResult:
        """The table."""
        yield DataTable(id="workflows", cursor_type="row")

    def on_mount(self) -> None:
        """Columns, then a frame at once."""
        table = self.query_one("#workflows", DataTable)
        table.add_columns("ID", "Status", "Done", "Failed", "Cancelled", "Total")
        table.focus()
        self.japp.poll_now()

    def page_query(self) -> PageQuery:
        """One page of the listing."""
        return PageQuery(View.WORKFLOWS, limit=PAGE)

    def show(self, snapshot: Snapshot) -> None:
        """Refill the table from the frame's page (the cursor stays on its row)."""
        super().show(snapshot)
        if snapshot.workflows is None:
            return
        table = self.query_one("#workflows", DataTable)
        row = table.cursor_row
        table.clear()
        for w in snapshot.workflows.items:
            table.add_row(
                w.id, w.status.value, w.completed, w.failed, w.cancelled, w.total, key=w.id
            )
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter: the workflow's graph."""
        if event.row_key.value:
            self.app.push_screen(WorkflowScreen(event.row_key.value))


class WorkflowScreen(RecordModal):
    """One workflow, refreshed with every frame: progress, the graph, and cancel."""

    KIND = "Workflow"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("c", "cancel_workflow", "Cancel workflow"),
    ]

    def renderer(self) -> WorkflowView:
        """The graph and its progress."""
        return WorkflowView(self.record_id)

    def on_mount(self) -> None:
        """Fetch the graph at once."""
        self.query_one("#detail-scroll").focus()
        self.japp.poll_now()

    def page_query(self) -> PageQuery:
        """Only this workflow besides /stats."""
        return PageQuery(View.WORKFLOW, workflow_id=self.record_id)

    @property
    def view(self) -> WorkflowView:
        """The renderer."""
        return self.query_one(WorkflowView)

    def show(self, snapshot: Snapshot) -> None:
        """Feed the graph, then re-check whether cancel is offered."""
        super().show(snapshot)
        self.view.update(snapshot)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Cancel only while the workflow runs."""
        if action == "cancel_workflow":
            flow = self.view.shown if self.is_mounted else None
            return flow is not None and flow.status.value == "running"
        return True

    def action_cancel_workflow(self) -> None:
        """Cancel every node not yet ended (running ones are asked to stop)."""
        client, wid = self.japp.client, self.record_id

        async def call() -> str:
            res = await client.cancel_workflow(wid)
            return f"workflow {wid}: {res.cancelled} cancelled, {res.cancel_requested} stopping"

        self.confirm(f"Cancel workflow {wid}?", "Cancel", call)
