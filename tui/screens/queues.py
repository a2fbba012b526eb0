"""Queues and roles: settings, pause/resume, purge, and the edit forms."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from jobbers.api.schemas import QueueConfig, QueueStats, QueueUpdate, RatePeriod

from ..snapshot import Snapshot, View
from ..widgets.queues import QueueConfigTable, RoleTable
from ..widgets.table import LiveTable
from .base import ViewScreen
from .forms import QueueForm, RoleForm


class QueueActions(ViewScreen):
    """Pause/resume, purge and edit the queue under the cursor (overview and queues view)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_pause", "Pause/resume queue"),
        Binding("x", "purge", "Purge"),
        Binding("e", "edit", "Edit"),
    ]

    def queue_table(self) -> LiveTable:
        """The table whose cursor names the queue."""
        raise NotImplementedError

    def selected_queue(self) -> QueueStats | None:
        """The queue under the cursor, as the last frame saw it."""
        name = self.queue_table().current_key
        if self.last is None or name is None:
            return None
        return next((q for q in self.last.stats.queues if q.name == name), None)

    def action_toggle_pause(self) -> None:
        """Pause a running queue or resume a paused one (reversible, so no question)."""
        queue = self.selected_queue()
        if queue is None:
            return
        client, name, paused = self.japp.client, queue.name, queue.paused

        async def call() -> str:
            if paused:
                await client.resume_queue(name)
                return f"queue {name} resumed"
            await client.pause_queue(name)
            return f"queue {name} paused: workers start none of its tasks"

        self.act("Resume" if paused else "Pause", call)

    def action_purge(self) -> None:
        """Cancel every waiting task of the queue, after a confirmation."""
        queue = self.selected_queue()
        if queue is None:
            return
        client, name = self.japp.client, queue.name

        async def call() -> str:
            res = await client.purge_queue(name)
            return f"queue {name}: {res.cancelled} waiting tasks cancelled"

        waiting = queue.depth + queue.scheduled
        self.confirm(
            f"Purge queue {name}? Its {waiting:,} waiting tasks will be cancelled.", "Purge", call
        )

    def action_edit(self) -> None:
        """Edit the queue's limits in a form, then save them."""
        queue = self.selected_queue()
        if queue is None:
            return
        config = QueueConfig.model_construct(
            name=queue.name,
            max_concurrent=queue.max_concurrent,
            rate_numerator=queue.rate_numerator,
            rate_denominator=queue.rate_denominator,
            rate_period=RatePeriod(queue.rate_period) if queue.rate_period else None,
        )
        client = self.japp.client

        def save(update: QueueUpdate | None) -> None:
            if update is None:
                return

            async def call() -> str:
                await client.update_queue(queue.name, update)
                return f"queue {queue.name} saved"

            self.act("Edit queue", call)

        self.app.push_screen(QueueForm(config), save)


class QueuesScreen(QueueActions):
    """Queue settings and the roles that route them to workers."""

    VIEW = View.QUEUES

    def compose_body(self) -> ComposeResult:
        """Queues above, roles below; tab moves between them."""
        yield Static(id="caption", classes="caption")
        yield QueueConfigTable(id="queues")
        yield Static("Roles", classes="caption")
        yield RoleTable(id="roles")

    def queue_table(self) -> LiveTable:
        """The queue settings table."""
        return self.query_one("#queues", LiveTable)

    def caption(self, snapshot: Snapshot) -> str:
        """How many queues, how many paused."""
        paused = sum(q.paused for q in snapshot.stats.queues)
        filt = self.filter_label()
        return f"Queues {len(snapshot.stats.queues)} · paused {paused}{filt}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Pause and purge act on queues only; edit works on both tables."""
        if action in ("toggle_pause", "purge"):
            return self.focused is not self.query_one("#roles")
        return super().check_action(action, parameters)

    def on_descendant_focus(self) -> None:
        """The footer follows the focused table."""
        self.refresh_bindings()

    def action_edit(self) -> None:
        """Edit the focused queue's limits, or the focused role's queue list."""
        roles = self.query_one("#roles", LiveTable)
        if self.focused is not roles:
            super().action_edit()
            return
        name = roles.current_key
        frame = roles.snapshot
        if frame is None or frame.roles is None or name is None:
            return
        role = next((r for r in frame.roles if r.name == name), None)
        current = role.queues if role else []
        known = [q.name for q in frame.stats.queues]
        client = self.japp.client

        def save(queues: list[str] | None) -> None:
            if queues is None:
                return

            async def call() -> str:
                # The form edits the queue list only: the strategy stays, and the weights
                # of the queues that stay with it.
                if role is None:
                    await client.set_role(name, queues)
                else:
                    weights = {q: w for q, w in role.weights.items() if q in queues}
                    await client.set_role(name, queues, role.strategy, weights)
                return f"role {name}: {', '.join(queues) or 'no queues'}"

            self.act("Edit role", call)

        self.app.push_screen(RoleForm(name, current, known), save)
