"""Running tasks with elapsed time, progress and heartbeat age, and the stalled ones."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from jobbers.api.schemas import TaskSummary

from ..snapshot import Snapshot
from .cells import clip, duration, heartbeat, middle, progress_bar, short_id, since
from .table import Col, LiveTable, Row


def task_label(task: TaskSummary) -> str:
    """``name@version``, the identity the registry and the worker use."""
    return f"{task.name}@{task.version}"


class TaskTable(LiveTable):
    """A table of task rows, which all start with the task's id, name@version and queue."""

    @staticmethod
    def task_columns(id_label: str = "ID") -> list[Col]:
        """The id, task and queue columns, as every task table shows them."""
        return [
            Col("id", id_label, 26, least=7, snap=True),
            Col("task", "Task", 24, least=12),
            Col("queue", "Queue", 14, least=7),
        ]

    def task_cells(self, task: TaskSummary, label: str, id_style: Style) -> list[Text]:
        """The cells of ``task_columns`` for one task, cut to their widths."""
        w = self.width_of
        return [
            Text(short_id(task.id, w("id")), style=id_style, no_wrap=True),
            Text(clip(label, w("task")), no_wrap=True),
            Text(clip(task.queue, w("queue")), no_wrap=True),
        ]

    def keeps(self, task: TaskSummary, label: str, *fields: object) -> bool:
        """True when the filter keeps the row: its free text in the id, label, queue or
        ``fields``, and its ``name:`` (the page's API has no name filter) the task's name."""
        if not self.filter.matches(task.id, label, task.queue, *fields):
            return False
        return not self.filter.name or task.name == self.filter.name


class RunningTable(TaskTable):
    """One row per running task; heartbeats near or past their limit are coloured."""

    def columns_for(self, width: int) -> list[Col]:
        """Heartbeat and progress always; ids and names squeezed first, the message dropped."""
        return [
            *self.task_columns(),
            Col("worker", "Worker", 22, least=8),
            Col("elapsed", "Elapsed", 7, right=True),
            Col("progress", "Progress", 16, least=9),
            Col("heartbeat", "Heartbeat", 13, least=11),
            Col("message", "Message", 12, least=10, drop=1, grow=True),
        ]

    def frame_rows(self, snapshot: Snapshot) -> list[Row] | None:
        """The running page, filtered by the free text; None when the frame has no page."""
        if snapshot.active is None:
            return None
        p = self.palette
        w = self.width_of
        out: list[Row] = []
        for t in snapshot.active.items:
            label = task_label(t)
            if not self.keeps(t, label, t.worker_id, t.progress_message):
                continue
            cells = [
                *self.task_cells(t, label, p.muted),
                Text(middle(t.worker_id or "—", w("worker")), no_wrap=True),
                Text(duration(t.elapsed_s), justify="right", no_wrap=True),
                progress_bar(t.progress, None, w("progress")),
                heartbeat(t.heartbeat_age_s, t.max_heartbeat_interval, p, w("heartbeat")),
            ]
            if w("message"):
                cells.append(Text(clip(t.progress_message or "", w("message")), no_wrap=True))
            out.append((str(t.id), cells))
        return out


class StalledTable(TaskTable):
    """Tasks the cleaner marked stalled: retry them (``r``) or open them (``enter``)."""

    def columns_for(self, width: int) -> list[Col]:
        """Who stalled, where, and how long ago its last heartbeat was; the reason if it fits."""
        return [
            *self.task_columns("Stalled"),
            Col("worker", "Worker", 22, least=8, drop=2),
            Col("beat", "Last beat", 9, right=True),
            Col("error", "Reason", 12, least=8, drop=1, grow=True),
        ]

    def frame_rows(self, snapshot: Snapshot) -> list[Row] | None:
        """The most recent stalled tasks; None when the frame has no page."""
        if snapshot.stalled is None:
            return None
        p = self.palette
        w = self.width_of
        out: list[Row] = []
        for t in snapshot.stalled.items:
            label = task_label(t)
            if not self.keeps(t, label, t.worker_id, t.last_error):
                continue
            beat = since(snapshot.now, t.heartbeat_at or t.started_at)
            cells = [
                *self.task_cells(t, label, p.error),
                Text(middle(t.worker_id or "—", w("worker")), no_wrap=True),
                Text(duration(beat), justify="right", style=p.warning),
                Text(clip(t.last_error or "stalled", w("error")), style=p.muted, no_wrap=True),
            ]
            out.append((str(t.id), cells))
        return out
