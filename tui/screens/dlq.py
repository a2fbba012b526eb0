"""The dead-letter queue: browse, filter, mark, resubmit or delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Static

from jobbers.api.schemas import DLQDeleteRequest, DLQResubmitRequest

from ..snapshot import Snapshot, View
from ..widgets.dlq import DeadLetterTable
from .base import PAGE_KEYS, TableView
from .detail import TaskViewScreen


class DeadLetterScreen(TableView[DeadLetterTable], TaskViewScreen):
    """Space marks rows; ``r`` resubmits and ``d`` deletes the marked rows (or the current)."""

    VIEW = View.DLQ
    TABLE = DeadLetterTable
    TABLE_ID = "dlq"
    PAGED = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "mark", "Mark"),
        Binding("a", "mark_all", "Mark all", show=False),
        Binding("r", "retry", "Resubmit"),
        Binding("d", "delete", "Delete"),
        *PAGE_KEYS,
    ]

    def filter_hint(self) -> str:
        """The manager filters by name, queue and version; text narrows the page."""
        return "name:TASK queue:NAME version:N, or text (enter applies, escape cancels)"

    def caption(self, snapshot: Snapshot) -> str:
        """DLQ size from /stats, the filter, the marks, the page."""
        marked = f" · {len(self.table.marked)} marked" if self.table.marked else ""
        more, filt = self.more_label(), self.filter_label()
        return f"Dead letters {snapshot.stats.dlq:,}{more}{filt}{marked}{self.page_label()}"

    def current_page(self) -> str | None:
        """The DLQ page's next cursor."""
        # The table keeps the last frame that carried a DLQ page (a frame for the detail
        # modal above this view carries none).
        return self.table.next_cursor

    def _recaption(self) -> None:
        if self.last is not None:
            self.query_one("#caption", Static).update(self.caption(self.last), layout=False)

    def action_mark(self) -> None:
        """Mark or unmark the row under the cursor."""
        self.table.toggle_mark()
        self._recaption()

    def action_mark_all(self) -> None:
        """Mark every row shown, or clear the marks."""
        self.table.mark_all()
        self._recaption()

    def _targets(self) -> tuple[list[str], str]:
        ids = self.table.selection()
        what = f"{len(ids)} marked tasks" if self.table.marked else f"task {ids[0] if ids else ''}"
        return ids, what

    def _confirm_selection(
        self, question: str, label: str, send: Callable[[list[str]], Awaitable[str]]
    ) -> None:
        """Ask ``question`` (its ``{what}`` names the selection); on a yes, send the selected
        ids and unmark them once the manager has answered."""
        ids, what = self._targets()
        if not ids:
            return
        table = self.table

        async def call() -> str:
            message = await send(ids)
            table.marked -= set(ids)
            return message

        self.confirm(question.format(what=what), label, call)

    def action_retry(self) -> None:
        """Put the selection back on its queues (retry count reset), after a confirmation."""
        client = self.japp.client

        async def resubmit(ids: list[str]) -> str:
            res = await client.resubmit_dlq(
                DLQResubmitRequest(task_ids=ids, reset_retry_count=True)
            )
            failed = {k: v for k, v in res.results.items() if v != "resubmitted"}
            tail = f"; {len(failed)} not: {next(iter(failed.values()))}" if failed else ""
            return f"resubmitted {res.resubmitted} of {len(ids)}{tail}"

        question = "Resubmit {what} from the dead-letter queue (retry count reset)?"
        self._confirm_selection(question, "Resubmit", resubmit)

    def action_delete(self) -> None:
        """Remove the selection from the DLQ for good, after a confirmation."""
        client = self.japp.client

        async def delete(ids: list[str]) -> str:
            res = await client.delete_dlq(DLQDeleteRequest(task_ids=ids))
            return f"deleted {res.removed} of {len(ids)} from the dead-letter queue"

        question = "Delete {what} from the dead-letter queue for good?"
        self._confirm_selection(question, "Delete", delete)
