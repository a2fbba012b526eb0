"""What the command palette (``:``) offers besides the views: submit a task, create a queue
or a role. Each opens a form that saves through the shared client (never Redis), shows the
manager's refusal in the form, and asks for a fresh frame once saved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from textual.app import SystemCommand

from jobbers.api.schemas import QueueConfig, Role, SubmitTaskRequest

from .console import Console
from .screens.forms import FormScreen, NewQueueForm, NewRoleForm, SubmitForm


def commands(app: Console) -> Iterator[SystemCommand]:
    """The palette entries that change the manager's state."""
    yield SystemCommand(
        "Submit a task", "Name, JSON parameters and queue", lambda: submit_task(app)
    )
    yield SystemCommand("Create a queue", "Name and optional limits", lambda: create_queue(app))
    yield SystemCommand(
        "Create a role", "Name and the queues its workers read", lambda: create_role(app)
    )
    yield SystemCommand(
        "Show workflows", "Graphs of tasks: progress, open one, cancel it", lambda: workflows(app)
    )


def workflows(app: Console) -> None:
    """The workflows listing (a modal: enter opens one)."""
    from .screens.workflows import WorkflowsScreen

    app.push_screen(WorkflowsScreen())


def known_queues(app: Console) -> list[str]:
    """The queues of the last frame (a hint in the forms; the manager has the last word)."""
    return [q.name for q in app.last.stats.queues] if app.last else []


def open_form(app: Console, form: FormScreen[Any], send: Callable[[Any], Awaitable[str]]) -> None:
    """Show ``form``; once ``send`` saved its value, fetch a frame that shows it."""
    form.send = send
    app.push_screen(form, lambda value: app.poll_now() if value is not None else None)


def submit_task(app: Console) -> None:
    """Submit a task through the client."""

    async def send(request: SubmitTaskRequest) -> str:
        res = await app.client.submit_task(request)
        return f"task {res.task.id} ({request.name}@{request.version}) on queue {res.task.queue}"

    open_form(app, SubmitForm(known_queues(app)), send)


def create_queue(app: Console) -> None:
    """Create a queue through the client."""

    async def send(config: QueueConfig) -> str:
        created = await app.client.create_queue(config)
        return f"queue {created.name} created"

    open_form(app, NewQueueForm(), send)


def create_role(app: Console) -> None:
    """Create a role through the client."""

    async def send(role: Role) -> str:
        created = await app.client.create_role(role)
        return f"role {created.name} created: {', '.join(created.queues) or 'no queues'}"

    open_form(app, NewRoleForm(known_queues(app)), send)
