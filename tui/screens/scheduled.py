"""Tasks waiting for a retry: when each is due, soonest first; enter opens one."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import Static

from ..snapshot import Snapshot, View
from ..widgets.scheduled import ScheduledTable
from .base import PAGE_KEYS
from .detail import TaskViewScreen


class ScheduledScreen(TaskViewScreen):
    """One page of ``GET /scheduled-tasks``: due time, attempt, the error being retried."""

    VIEW = View.SCHEDULED
    PAGED = True
    BINDINGS: ClassVar[list[BindingType]] = [*PAGE_KEYS]

    def compose_body(self) -> ComposeResult:
        """Caption and the scheduled page."""
        yield Static(id="caption", classes="caption")
        yield ScheduledTable(id="scheduled")

    @property
    def table(self) -> ScheduledTable:
        """The scheduled table."""
        return self.query_one("#scheduled", ScheduledTable)

    def filter_hint(self) -> str:
        """Queue is filtered by the manager; text matches id, task and error."""
        return "queue:NAME name:TASK or text (enter applies, escape cancels)"

    def caption(self, snapshot: Snapshot) -> str:
        """How many wait (from /stats, all of Redis), how many are shown, the page."""
        waiting = snapshot.stats.statuses.get("scheduled", 0)
        more, filt = self.more_label(), self.filter_label()
        shown = self.table.row_count
        return f"Scheduled {waiting:,} · showing {shown}{more}{filt}{self.page_label()}"

    def current_page(self) -> str | None:
        """The scheduled page's next cursor."""
        return self.table.next_cursor
