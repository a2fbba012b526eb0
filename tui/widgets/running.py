"""Running tasks with elapsed time, progress and heartbeat age, and the stalled ones."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from rich.style import Style
from rich.text import Text

from jobbers.api.schemas import ActiveTask, TaskSummary
from jobbers.models.dashboard import Page

from ..snapshot import Snapshot
from .cells import clip, duration, heartbeat, middle, progress_bar, short_id, since
from .table import Col, LiveTable, Row

S = TypeVar("S", bound=TaskSummary)


def task_label(task: TaskSummary) -> str:
    """``name@version``, the identity the registry and the worker use."""
    return f"{task.name}@{task.version}"


class TaskTable(LiveTable, Generic[S]):
    """A page of tasks, a row each, starting with the task's id, name@version and queue.

    Subclasses say which page of the frame they show (``PAGE``), what else the free text
    searches (``SEARCHED``) and the cells of a row (``cells``); the filtering and the row
    keys (the task ids) are the same for all.
    """

    #: False where the page's own API call already narrows it by task name.
    filters_name: ClassVar[bool] = True

    #: The field of the frame (``Snapshot``) that holds this table's page.
    PAGE: ClassVar[str]
    #: The task's fields the free text searches besides the id, the label and the queue.
    SEARCHED: ClassVar[tuple[str, ...]]

    def page(self, snapshot: Snapshot) -> Page[S] | None:
        """The page of the frame this table shows; None when the frame has no such page."""
        page: Page[S] | None = getattr(snapshot, self.PAGE)
        return page

    def searched(self, task: S) -> tuple[object, ...]:
        """The values of ``SEARCHED`` for one task."""
        return tuple(getattr(task, name) for name in self.SEARCHED)

    def cells(self, task: S, label: str, snapshot: Snapshot) -> list[Text]:
        """The cells of one task's row, cut to the columns' widths."""
        raise NotImplementedError

    @staticmethod
    def task_columns(id_label: str = "ID") -> list[Col]:
        """The id, task and queue columns, as every task table shows them."""
        return [
            Col("id", id_label, 26, least=7, snap=True),
            Col("task", "Task", 24, least=12),
            Col("queue", "Queue", 14, least=7),
        ]

    def task_cells(self, task: TaskSummary, label: str, id_style: Style) -> list[Text]:
        """The cells of ``task_columns`` for one task."""
        w = self.width_of
        return [
            Text(short_id(task.id, w("id")), style=id_style, no_wrap=True),
            Text(clip(label, w("task")), no_wrap=True),
            Text(clip(task.queue, w("queue")), no_wrap=True),
        ]

    @property
    def next_cursor(self) -> str | None:
        """The next page's cursor, from the last frame that carried this table's page."""
        page = None if self.snapshot is None else self.page(self.snapshot)
        return None if page is None else page.next_cursor

    def frame_rows(self, snapshot: Snapshot) -> list[Row] | None:
        """The page's tasks that the filter keeps, in the page's order."""
        page = self.page(snapshot)
        if page is None:
            return None
        out: list[Row] = []
        for t in page.items:
            label = task_label(t)
            if not self.filter.matches(t.id, label, t.queue, *self.searched(t)):
                continue
            if self.filters_name and self.filter.name and t.name != self.filter.name:
                continue
            out.append((str(t.id), self.cells(t, label, snapshot)))
        return out


class RunningTable(TaskTable[ActiveTask]):
    """One row per running task; heartbeats near or past their limit are coloured."""

    PAGE = "active"  # the running page; search the worker and the progress message
    SEARCHED = ("worker_id", "progress_message")

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

    def cells(self, task: ActiveTask, label: str, snapshot: Snapshot) -> list[Text]:
        """Where it runs, for how long, its progress and heartbeat; the message if it fits."""
        p = self.palette
        w = self.width_of
        cells = [
            *self.task_cells(task, label, p.muted),
            Text(middle(task.worker_id or "—", w("worker")), no_wrap=True),
            Text(duration(task.elapsed_s), justify="right", no_wrap=True),
            progress_bar(task.progress, None, w("progress")),
            heartbeat(task.heartbeat_age_s, task.max_heartbeat_interval, p, w("heartbeat")),
        ]
        if w("message"):
            cells.append(Text(clip(task.progress_message or "", w("message")), no_wrap=True))
        return cells


class StalledTable(TaskTable[TaskSummary]):
    """Tasks the cleaner marked stalled: retry them (``r``) or open them (``enter``)."""

    PAGE = "stalled"  # the most recent stalled tasks
    SEARCHED = ("worker_id", "last_error")  # the worker and the reason

    def columns_for(self, width: int) -> list[Col]:
        """Who stalled, where, and how long ago its last heartbeat was; the reason if it fits."""
        return [
            *self.task_columns("Stalled"),
            Col("worker", "Worker", 22, least=8, drop=2),
            Col("beat", "Last beat", 9, right=True),
            Col("error", "Reason", 12, least=8, drop=1, grow=True),
        ]

    def cells(self, task: TaskSummary, label: str, snapshot: Snapshot) -> list[Text]:
        """The worker it stalled on, its last heartbeat's age and the reason."""
        p = self.palette
        w = self.width_of
        beat = since(snapshot.now, task.heartbeat_at or task.started_at)
        return [
            *self.task_cells(task, label, p.error),
            Text(middle(task.worker_id or "—", w("worker")), no_wrap=True),
            Text(duration(beat), justify="right", style=p.warning),
            Text(clip(task.last_error or "stalled", w("error")), style=p.muted, no_wrap=True),
        ]
