"""Tasks waiting for a retry, soonest due first, with when they are due and why they wait."""

from __future__ import annotations

from rich.text import Text

from ..snapshot import Snapshot
from .cells import clip, duration, short_id
from .running import task_label
from .table import Col, LiveTable, Row


class ScheduledTable(LiveTable):
    """One scheduled page; an overdue task (the scheduler is behind) shows in the warning colour."""

    def columns_for(self, width: int) -> list[Col]:
        """The task, its queue and attempt, when it is due; the error it retries takes the rest."""
        return [
            Col("id", "ID", 26, least=7, snap=True),
            Col("task", "Task", 24, least=12),
            Col("queue", "Queue", 14, least=7),
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
            if not self.filter.matches(t.id, label, t.queue, t.last_error):
                continue
            if self.filter.name and t.name != self.filter.name:
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
                Text(short_id(t.id, w("id")), style=p.muted, no_wrap=True),
                Text(clip(label, w("task")), no_wrap=True),
                Text(clip(t.queue, w("queue")), no_wrap=True),
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
