"""Running tasks with elapsed time, progress and heartbeat age, and the stalled ones."""

from __future__ import annotations

from rich.text import Text

from jobbers.api.schemas import TaskSummary

from ..snapshot import Snapshot
from .cells import clip, duration, heartbeat, middle, progress_bar, short_id, since
from .table import Col, LiveTable, Row


def task_label(task: TaskSummary) -> str:
    """``name@version``, the identity the registry and the worker use."""
    return f"{task.name}@{task.version}"


class RunningTable(LiveTable):
    """One row per running task; heartbeats near or past their limit are coloured."""

    def columns_for(self, width: int) -> list[Col]:
        """Heartbeat and progress always; ids and names squeezed first, the message dropped."""
        return [
            Col("id", "ID", 26, least=7, snap=True),
            Col("task", "Task", 24, least=12),
            Col("queue", "Queue", 14, least=7),
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
            if not self.filter.matches(t.id, label, t.queue, t.worker_id, t.progress_message):
                continue
            if self.filter.name and t.name != self.filter.name:
                continue
            cells = [
                Text(short_id(t.id, w("id")), style=p.muted, no_wrap=True),
                Text(clip(label, w("task")), no_wrap=True),
                Text(clip(t.queue, w("queue")), no_wrap=True),
                Text(middle(t.worker_id or "—", w("worker")), no_wrap=True),
                Text(duration(t.elapsed_s), justify="right", no_wrap=True),
                progress_bar(t.progress, None, w("progress")),
                heartbeat(t.heartbeat_age_s, t.max_heartbeat_interval, p, w("heartbeat")),
            ]
            if w("message"):
                cells.append(Text(clip(t.progress_message or "", w("message")), no_wrap=True))
            out.append((str(t.id), cells))
        return out


class StalledTable(LiveTable):
    """Tasks the cleaner marked stalled: retry them (``r``) or open them (``enter``)."""

    def columns_for(self, width: int) -> list[Col]:
        """Who stalled, where, and how long ago its last heartbeat was; the reason if it fits."""
        return [
            Col("id", "Stalled", 26, least=7, snap=True),
            Col("task", "Task", 24, least=12),
            Col("queue", "Queue", 14, least=7),
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
            if not self.filter.matches(t.id, label, t.queue, t.worker_id, t.last_error):
                continue
            if self.filter.name and t.name != self.filter.name:
                continue
            beat = since(snapshot.now, t.heartbeat_at or t.started_at)
            cells = [
                Text(short_id(t.id, w("id")), style=p.error, no_wrap=True),
                Text(clip(label, w("task")), no_wrap=True),
                Text(clip(t.queue, w("queue")), no_wrap=True),
                Text(middle(t.worker_id or "—", w("worker")), no_wrap=True),
                Text(duration(beat), justify="right", style=p.warning),
                Text(clip(t.last_error or "stalled", w("error")), style=p.muted, no_wrap=True),
            ]
            out.append((str(t.id), cells))
        return out
