"""Schedules (issue 15 §2): next and last fire, overlap policy; pause/resume and trigger."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from jobbers.api.schemas import ScheduleView

from ..snapshot import Snapshot, View
from ..widgets.schedules import SchedulesTable
from .base import QUEUE_AND_NAME_HINT, TableView
from .detail import TaskDetailScreen


class SchedulesScreen(TableView[SchedulesTable]):
    """``GET /schedules``: every rule, with the keys that act on the one under the cursor."""

    VIEW = View.SCHEDULES
    TABLE = SchedulesTable
    TABLE_ID = "schedules"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_pause", "Pause/resume schedule"),
        Binding("t", "trigger", "Trigger now"),
    ]

    def filter_hint(self) -> str:
        """Filters apply to the rows of the one page."""
        return QUEUE_AND_NAME_HINT

    def caption(self, snapshot: Snapshot) -> str:
        """How many schedules, how many paused."""
        every = snapshot.schedules or []
        paused = sum(not s.enabled for s in every)
        filt = self.filter_label()
        return f"Schedules {len(every)} · paused {paused}{filt}"

    def selected(self) -> ScheduleView | None:
        """The schedule under the cursor, as the last frame saw it."""
        name = self.table.current_key
        frame = self.table.snapshot
        if frame is None or frame.schedules is None or name is None:
            return None
        return next((s for s in frame.schedules if s.name == name), None)

    def action_toggle_pause(self) -> None:
        """Pause a firing schedule or resume a paused one (reversible, so no question)."""
        schedule = self.selected()
        if schedule is None:
            return
        client, name, enabled = self.japp.client, schedule.name, schedule.enabled

        async def call() -> str:
            if enabled:
                await client.pause_schedule(name)
                return f"schedule {name} paused"
            view = await client.resume_schedule(name)
            return f"schedule {name} resumed; next fire {view.next_fire_at:%H:%M:%S}"

        self.act("Pause" if enabled else "Resume", call)

    def action_trigger(self) -> None:
        """Submit the schedule's task once now, after a confirmation."""
        schedule = self.selected()
        if schedule is None:
            return
        client, name = self.japp.client, schedule.name

        async def call() -> str:
            answer = await client.trigger_schedule(name)
            return f"schedule {name} triggered: task {answer.task.id}"

        self.confirm(f"Run schedule {name}'s task {schedule.task.name} now?", "Trigger", call)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter: the schedule's last task, if it has one."""
        schedule = self.selected()
        if schedule is not None and schedule.last_task_id:
            self.app.push_screen(TaskDetailScreen(schedule.last_task_id))
