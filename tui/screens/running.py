"""Running tasks (elapsed, progress, heartbeat age) with the stalled ones beneath."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from ..snapshot import Snapshot, View
from ..widgets.running import RunningTable, StalledTable
from ..widgets.table import LiveTable
from .base import PAGE_KEYS, QUEUE_AND_NAME_HINT
from .detail import TaskViewScreen


class RunningScreen(TaskViewScreen):
    """``c`` cancels a running task, ``r`` retries a stalled one, enter opens either."""

    VIEW = View.RUNNING
    PAGED = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel_task", "Cancel"),
        Binding("r", "retry", "Retry stalled"),
        *PAGE_KEYS,
    ]

    def compose_body(self) -> ComposeResult:
        """Caption, the running table, the stalled table (tab switches between them)."""
        yield Static(id="caption", classes="caption")
        yield RunningTable(id="running")
        yield StalledTable(id="stalled")

    def filter_hint(self) -> str:
        """Queue is filtered by the manager; text matches id, task, worker, message."""
        return QUEUE_AND_NAME_HINT

    def caption(self, snapshot: Snapshot) -> str:
        """Counts from /stats (all of Redis), not just the page."""
        running = snapshot.stats.statuses.get("started", 0)
        stalled = snapshot.stats.statuses.get("stalled", 0)
        shown = self.query_one("#running", RunningTable).row_count
        return (
            f"Running {running:,} · showing {shown}{self.more_label()} · stalled {stalled:,}"
            f"{self.filter_label()}{self.page_label()}"
        )

    def show(self, snapshot: Snapshot) -> None:
        """Hide the stalled table while nothing is stalled."""
        super().show(snapshot)
        stalled = self.query_one("#stalled", StalledTable)
        stalled.display = stalled.row_count > 0

    def current_page(self) -> str | None:
        """The running page's next cursor."""
        return self.query_one("#running", RunningTable).next_cursor

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Cancel applies to the running table, retry to the stalled one."""
        if action == "cancel_task":
            return self.focused is not self.query_one("#stalled")
        if action == "retry":
            return self.focused is self.query_one("#stalled")
        return super().check_action(action, parameters)

    def on_descendant_focus(self) -> None:
        """The footer follows the focused table."""
        self.refresh_bindings()

    def _confirm_current(
        self, table: LiveTable, question: str, label: str, send: Callable[[str], Awaitable[str]]
    ) -> None:
        """Ask ``question`` about the task under ``table``'s cursor (its ``{tid}``); on a yes,
        ``send`` that task's id."""
        tid = table.current_key
        if tid is not None:
            self.confirm(question.format(tid=tid), label, partial(send, tid))

    def action_cancel_task(self) -> None:
        """Cancel the running task under the cursor, after a confirmation."""
        client = self.japp.client

        async def cancel(tid: str) -> str:
            res = await client.cancel_task(tid)
            return f"{tid}: {res.outcome.replace('_', ' ')}"

        table = self.query_one("#running", RunningTable)
        self._confirm_current(table, "Cancel running task {tid}?", "Cancel", cancel)

    def action_retry(self) -> None:
        """Put the stalled task under the cursor back on its queue, after a confirmation."""
        client = self.japp.client

        async def retry(tid: str) -> str:
            await client.retry_task(tid)
            return f"{tid}: back on its queue"

        table = self.query_one("#stalled", StalledTable)
        self._confirm_current(table, "Retry stalled task {tid}?", "Retry", retry)
