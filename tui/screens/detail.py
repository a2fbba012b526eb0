"""The task detail modal: the whole task, live, with the actions its status allows."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from jobbers.api.schemas import DLQDeleteRequest, DLQResubmitRequest, TaskStatus

from ..snapshot import PageQuery, Snapshot, View
from ..widgets.detail import TaskDetailView
from .base import RecordModal, ViewScreen

CANCELLABLE = {TaskStatus.SUBMITTED, TaskStatus.SCHEDULED, TaskStatus.STARTED, TaskStatus.WAITING}
RETRYABLE = {TaskStatus.FAILED, TaskStatus.STALLED, TaskStatus.CANCELLED}


class TaskDetailScreen(RecordModal):
    """One task, refreshed with every frame (the frame's page is this task, nothing else)."""

    KIND = "Task"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("c", "cancel_task", "Cancel task"),
        Binding("r", "retry", "Retry"),
        Binding("d", "delete", "Delete from DLQ"),
        Binding("w", "workflow", "Workflow"),
    ]

    def renderer(self) -> TaskDetailView:
        """The task, with its history."""
        return TaskDetailView(self.record_id)

    def page_query(self) -> PageQuery:
        """Only this task: one call besides /stats."""
        return PageQuery(View.DETAIL, task_id=self.record_id)

    def on_mount(self) -> None:
        """Fetch the task at once rather than at the next tick."""
        self.show_failure(self.japp.failure)
        self.query_one("#detail-scroll").focus()
        self.japp.poll_now()

    @property
    def view(self) -> TaskDetailView:
        """The renderer."""
        return self.query_one(TaskDetailView)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer only what the task's status allows (hidden from the footer otherwise)."""
        task = self.view.shown_task if self.is_mounted else None
        if action == "cancel_task":
            return task is not None and task.status in CANCELLABLE
        if action == "retry":
            return task is not None and task.status in RETRYABLE
        if action == "delete":
            return task is not None and task.in_dlq
        if action == "workflow":
            return task is not None and task.workflow_id is not None
        return True

    def show(self, snapshot: Snapshot) -> None:
        """Feed the frame, then re-check which actions the footer offers."""
        super().show(snapshot)
        self.refresh_bindings()

    def action_cancel_task(self) -> None:
        """Cancel the task (a running one is interrupted at its next await)."""
        client, tid = self.japp.client, self.record_id

        async def call() -> str:
            res = await client.cancel_task(tid)
            return f"{tid}: {res.outcome.replace('_', ' ')}"

        self.confirm(f"Cancel task {tid}?", "Cancel", call)

    def action_retry(self) -> None:
        """Put the task back on its queue (from the DLQ when it is there)."""
        task = self.view.shown_task
        if task is None:
            return
        client, tid, in_dlq = self.japp.client, self.record_id, task.in_dlq

        async def call() -> str:
            if in_dlq:
                request = DLQResubmitRequest(task_ids=[tid], reset_retry_count=True)
                res = await client.resubmit_dlq(request)
                return f"{tid}: {res.results.get(tid, 'resubmitted')}"
            await client.retry_task(tid)
            return f"{tid}: back on its queue"

        if in_dlq:
            question = f"Resubmit task {tid} from the dead-letter queue (retry count reset)?"
        else:
            question = f"Retry task {tid} (back on its queue)?"
        self.confirm(question, "Retry", call)

    def action_workflow(self) -> None:
        """Open the workflow the task belongs to."""
        from .workflows import WorkflowScreen

        task = self.view.shown_task
        if task is not None and task.workflow_id:
            self.app.push_screen(WorkflowScreen(task.workflow_id))

    def action_delete(self) -> None:
        """Remove the task from the DLQ for good."""
        client, tid = self.japp.client, self.record_id

        async def call() -> str:
            res = await client.delete_dlq(DLQDeleteRequest(task_ids=[tid]))
            return f"removed {res.removed} task from the dead-letter queue"

        self.confirm(f"Delete task {tid} from the dead-letter queue?", "Delete", call)


class TaskViewScreen(ViewScreen):
    """A view whose rows are tasks, keyed by their ids: enter opens one in the detail modal."""

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter: the task with its history and the actions its status allows."""
        if event.row_key.value:
            self.app.push_screen(TaskDetailScreen(event.row_key.value))
