"""Tasks waiting for a retry, soonest due first, with when they are due and why they wait."""

from __future__ import annotations

from rich.text import Text

from jobbers.api.schemas import ScheduledTask

from ..snapshot import Snapshot
from .cells import clip, duration
from .running import TaskTable
from .table import Col


class ScheduledTable(TaskTable[ScheduledTask]):
    """One scheduled page; an overdue task (the scheduler is behind) shows in the warning colour."""

    PAGE = "scheduled"  # as the manager sorted it (soonest first)
    SEARCHED = ("last_error",)  # the error it retries

    def columns_for(self, width: int) -> list[Col]:
        """The task, its queue and attempt, when it is due; the error it retries takes the rest."""
        return [
            *self.task_columns(),
            Col("attempt", "Attempt", 7, right=True),
            Col("due", "Due in", 9, right=True),
            Col("at", "Due at", 8),
            Col("error", "Error", 30, least=10, drop=1, grow=True),
        ]

    def cells(self, task: ScheduledTask, label: str, snapshot: Snapshot) -> list[Text]:
        """Its attempt and when it is due (negative: overdue); the error if it fits."""
        p = self.palette
        w = self.width_of
        zone = snapshot.fetched_at.tzinfo  # the app's clock: the zone the status line uses
        due = task.due_in_s
        if due is None:
            due_text = Text("—", style=p.muted, justify="right")
        elif due < 0:
            due_text = Text(f"-{duration(-due)}", style=p.warning, justify="right")
        else:
            due_text = Text(duration(due), justify="right")
        at = task.scheduled_for.astimezone(zone).strftime("%H:%M:%S") if task.scheduled_for else "—"
        cells = [
            *self.task_cells(task, label, p.muted),
            Text(str(task.attempt_number), justify="right"),
            due_text,
            Text(at, no_wrap=True),
        ]
        if w("error"):
            cells.append(Text(clip(task.last_error or "", w("error")), style=p.muted, no_wrap=True))
        return cells
