"""Tasks waiting for a retry: when each is due, soonest first; enter opens one."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import BindingType

from ..snapshot import Snapshot, View
from ..widgets.scheduled import ScheduledTable
from .base import PAGE_KEYS, QUEUE_AND_NAME_HINT, TableView
from .detail import TaskViewScreen


class ScheduledScreen(TableView[ScheduledTable], TaskViewScreen):
    """One page of ``GET /scheduled-tasks``: due time, attempt, the error being retried."""

    VIEW = View.SCHEDULED
    TABLE = ScheduledTable
    TABLE_ID = "scheduled"
    PAGED = True
    BINDINGS: ClassVar[list[BindingType]] = [*PAGE_KEYS]

    def filter_hint(self) -> str:
        """Queue is filtered by the manager; text matches id, task and error."""
        return QUEUE_AND_NAME_HINT

    def caption(self, snapshot: Snapshot) -> str:
        """How many wait (from /stats, all of Redis), how many are shown, the page."""
        waiting = snapshot.stats.statuses.get("scheduled", 0)
        more, filt = self.more_label(), self.filter_label()
        shown = self.table.row_count
        return f"Scheduled {waiting:,} · showing {shown}{more}{filt}{self.page_label()}"

    def current_page(self) -> str | None:
        """The scheduled page's next cursor."""
        return self.table.next_cursor
