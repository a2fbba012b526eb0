"""The first screen: one row per queue with live numbers and sparklines, and the totals."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable

from ..snapshot import TaskFilter, View
from ..widgets.queues import QueueTable
from ..widgets.table import LiveTable
from ..widgets.totals import Totals
from .queues import QueueActions


class OverviewScreen(QueueActions):
    """Queues at a glance; enter drills into the queue's running tasks."""

    VIEW = View.OVERVIEW

    def compose_body(self) -> ComposeResult:
        """Totals over the queue table."""
        yield Totals()
        yield QueueTable(id="overview")

    def queue_table(self) -> LiveTable:
        """The overview table."""
        return self.query_one("#overview", LiveTable)

    def filter_hint(self) -> str:
        """Queues match by name."""
        return "part of a queue name (enter applies, escape cancels)"

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a queue: its running tasks."""
        queue = event.row_key.value
        if queue:
            await self.japp.show_view(View.RUNNING.value, TaskFilter(queue=queue))
