"""Tasks waiting for a retry, soonest due first, with when they are due and why they wait."""

from __future__ import annotations

from rich.text import Text

from ..snapshot import Snapshot
from .cells import clip, duration
from .running import TaskTable, task_label
from .table import Col, Row


class ScheduledTable(TaskTable):
    """One scheduled page; an overdue task (the scheduler is behind) shows in the warning colour."""

    def columns_for(self, width: int) -> list[Col]:
        """The task, its queue and attempt, when it is due; the error it retries takes the rest."""
        return [
            *self.task_columns(),
            Col("attempt", "Attempt", 7, right=True),
            Col("due", "Due in", 9, right=True),
            Col("at", "Due at", 8),
            Col("error", "Error", 30, least=10, drop=1, grow=True),
        ]

    def frame_rows(self, snapshot: Snapshot) -> list[Row] | None:
        """The page as the manager sorted it (soonest first), narrowed by free text."""
        if snapshot.scheduled is None:
            return None
        p = self.palette
        w = self.width_of
        zone = snapshot.fetched_at.tzinfo  # the app's clock: the zone the status line uses
        out: list[Row] = []
        for t in snapshot.scheduled.items:
            label = task_label(t)
            if not self.keeps(t, label, t.last_error):
                continue
            due = t.due_in_s
            if due is None:
                due_text = Text("—", style=p.muted, justify="right")
            elif due < 0:
                due_text = Text(f"-{duration(-due)}", style=p.warning, justify="right")
            else:
                due_text = Text(duration(due), justify="right")
            at = t.scheduled_for.astimezone(zone).strftime("%H:%M:%S") if t.scheduled_for else "—"
            cells = [
                *self.task_cells(t, label, p.muted),
                Text(str(t.attempt_number), justify="right"),
                due_text,
                Text(at, no_wrap=True),
            ]
            if w("error"):
                cells.append(
                    Text(clip(t.last_error or "", w("error")), style=p.muted, no_wrap=True)
                )
            out.append((str(t.id), cells))
        return out
