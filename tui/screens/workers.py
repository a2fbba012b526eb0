"""Live workers; enter shows the running tasks of the worker under the cursor."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from ..snapshot import Snapshot, TaskFilter, View  # noqa: TID252
from ..widgets.workers import WorkerTable  # noqa: TID252
from .base import ViewScreen


class WorkersScreen(ViewScreen):
    """Who is consuming: role, host, pid, uptime, in-flight, processed, failed, last seen."""

    VIEW = View.WORKERS

    def compose_body(self) -> ComposeResult:
        """Caption and the worker table."""
        yield Static(id="caption", classes="caption")
        yield WorkerTable(id="workers")

    def caption(self, snapshot: Snapshot) -> str:
        """Live workers and what they hold."""
        workers = snapshot.workers or []
        busy = sum(len(w.in_flight) for w in workers)
        dead = sum(not w.alive for w in workers)
        gone = f" · {dead} with an expired lease" if dead else ""
        filt = f" · filter: {self.filter}" if self.filter else ""
        return f"Workers {snapshot.stats.workers} live · {busy} tasks in flight{gone}{filt}"

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a worker: the running tasks it holds."""
        if event.row_key.value:
            await self.japp.show_view(View.RUNNING.value, TaskFilter(text=event.row_key.value))
