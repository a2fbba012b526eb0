"""The dead-letter queue page, with the operator's marks."""

from __future__ import annotations

from rich.text import Text

from jobbers.api.schemas import TaskSummary

from ..snapshot import Snapshot
from .cells import clip, duration, since
from .running import TaskTable
from .table import Col


class DeadLetterTable(TaskTable[TaskSummary]):
    """One DLQ page, newest first; ``marked`` holds the ids a bulk action will take."""

    PAGE = "dlq"  # as the API filtered it (by name, queue and version)
    SEARCHED = ("last_error",)  # the error it failed with

    filters_name = False  # GET /dead-letter-queue filters by name itself

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.marked: set[str] = set()

    def columns_for(self, width: int) -> list[Col]:
        """A mark, the task, its queue and attempt, when it failed; the error takes the rest."""
        return [
            Col("mark", " ", 1),
            *self.task_columns(),
            Col("attempt", "Attempt", 7, right=True),
            Col("failed", "Failed", 7, right=True),
            Col("error", "Error", 30, least=10, grow=True),
        ]

    def cells(self, task: TaskSummary, label: str, snapshot: Snapshot) -> list[Text]:
        """Its mark, attempt, how long ago it failed and the error."""
        p = self.palette
        w = self.width_of
        failed = since(snapshot.now, task.completed_at)
        return [
            Text("●", style=p.accent) if str(task.id) in self.marked else Text(" "),
            *self.task_cells(task, label, p.muted),
            Text(str(task.attempt_number), justify="right"),
            Text(duration(failed), justify="right", no_wrap=True),
            Text(clip(task.last_error or "", w("error")), style=p.error, no_wrap=True),
        ]

    @property
    def visible_ids(self) -> list[str]:
        """The ids of the rows shown, in order."""
        return [row.key.value or "" for row in self.ordered_rows]

    def toggle_mark(self) -> None:
        """Mark or unmark the row under the cursor, then move down (like a file manager)."""
        key = self.current_key
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        self.render_rows()
        self.action_cursor_down()

    def mark_all(self) -> None:
        """Mark every visible row, or clear the marks when all are marked already."""
        visible = set(self.visible_ids)
        self.marked = set() if visible <= self.marked else self.marked | visible
        self.render_rows()

    def selection(self) -> list[str]:
        """What an action applies to: the marked rows, else the row under the cursor."""
        if self.marked:
            return sorted(self.marked)
        key = self.current_key
        return [key] if key else []
