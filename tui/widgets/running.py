"""Running tasks with elapsed time, progress and heartbeat age, and the stalled ones."""

from __future__ import annotations

from rich.text import Text

from jobbers.schemas import TaskSummary

from ..snapshot import Snapshot  # noqa: TID252
from .cells import clip, duration, heartbeat, progress_bar, short_id, since
from .table import Col, LiveTable, Row

WIDE = 120


def task_label(task: TaskSummary) -> str:
    """``name@version``, the identity the registry and the worker use."""
    return f"{task.name}@{task.version}"


class RunningTable(LiveTable):
    """One row per running task; heartbeats near or past their limit are coloured."""

    def columns_for(self, width: int) -> list[Col]:
        """Short ids and a small bar at 80 columns; full ids and the progress message wider."""
        if width < WIDE:
            return [
                Col("id", "ID", 7),
                Col("task", "Task", 14),
                Col("queue", "Queue", 8),
                Col("worker", "Worker", 8),
                Col("elapsed", "Elapsed", 7, right=True),
                Col("progress", "Progress", 9),
                Col("heartbeat", "Heartbeat", 11),
            ]
        cols = [
            Col("id", "ID", 26),
            Col("task", "Task", 24),
            Col("queue", "Queue", 14),
            Col("worker", "Worker", 22),
            Col("elapsed", "Elapsed", 8, right=True),
            Col("progress", "Progress", 16),
            Col("heartbeat", "Heartbeat", 15),
        ]
        used = sum(c.width + 2 for c in cols) + 4
        return [*cols, Col("message", "Message", max(10, width - used))]

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
                Text(short_id(t.worker_id or "—", w("worker")), no_wrap=True),
                Text(duration(t.elapsed_s), justify="right", no_wrap=True),
                progress_bar(t.progress, None, w("progress")),
                heartbeat(t.heartbeat_age_s, t.max_heartbeat_interval, p),
            ]
            if w("message"):
                cells.append(Text(clip(t.progress_message or "", w("message")), no_wrap=True))
            out.append((str(t.id), cells))
        return out


class StalledTable(LiveTable):
    """Tasks the cleaner marked stalled: retry them (``r``) or open them (``enter``)."""

    def columns_for(self, width: int) -> list[Col]:
        """Who stalled, where, and how long ago its last heartbeat was."""
        wide = width >= WIDE
        cols = [
            Col("id", "Stalled", 26 if wide else 7),
            Col("task", "Task", 24 if wide else 14),
            Col("queue", "Queue", 14 if wide else 8),
            Col("worker", "Worker", 22 if wide else 8),
            Col("beat", "Last beat", 9, right=True),
        ]
        used = sum(c.width + 2 for c in cols) + 4
        return [*cols, Col("error", "Reason", max(8, width - used))]

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
                Text(short_id(t.worker_id or "—", w("worker")), no_wrap=True),
                Text(duration(beat), justify="right", style=p.warning),
                Text(clip(t.last_error or "stalled", w("error")), style=p.muted, no_wrap=True),
            ]
            out.append((str(t.id), cells))
        return out
