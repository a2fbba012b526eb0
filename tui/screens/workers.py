"""Live workers; enter shows the running tasks of the worker under the cursor."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from ..snapshot import Snapshot, TaskFilter, View
from ..widgets.workers import WorkerTable, fleet_lines
from .base import ViewScreen


class WorkersScreen(ViewScreen):
    """Who is consuming: role, host, pid, uptime, in-flight, processed, failed, last seen."""

    VIEW = View.WORKERS

    def compose_body(self) -> ComposeResult:
        """Caption, the fleet's totals per host and per role, and the worker table."""
        yield Static(id="caption", classes="caption")
        yield Static(id="fleet", classes="fleet")
        yield WorkerTable(id="workers")

    def show(self, snapshot: Snapshot) -> None:
        """Feed the table and the caption, then the totals lines."""
        super().show(snapshot)
        for fleet in self.query("#fleet").results(Static):
            fleet.update(fleet_lines(snapshot.workers or []), layout=False)

    def caption(self, snapshot: Snapshot) -> str:
        """Live workers and what they hold."""
        workers = snapshot.workers or []
        busy = sum(len(w.in_flight) for w in workers)
        dead = sum(not w.alive for w in workers)
        gone = f" · {dead} with an expired lease" if dead else ""
        filt = self.filter_label()
        return f"Workers {snapshot.stats.workers} live · {busy} tasks in flight{gone}{filt}"

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a worker: the running tasks it holds."""
        if event.row_key.value:
            await self.japp.show_view(View.RUNNING.value, TaskFilter(text=event.row_key.value))
