"""Forms: submit a task, a new queue or a queue's limits, a new role or a role's queues.

A form validates what was typed with the API's own models and returns the value. Given a
``send`` call, it also saves through the client before closing: a refusal of the manager
(an unknown task, a queue that exists) shows in the form, which stays open to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from jobbers.api.client import ClientError
from jobbers.api.schemas import QueueConfig, QueueUpdate, RatePeriod, Role, SubmitTaskRequest

T = TypeVar("T")
PERIODS: list[tuple[str, str]] = [(p.value, p.value) for p in RatePeriod]


def first_error(exc: ValidationError) -> str:
    """The first problem pydantic found, in one line."""
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


class FormScreen(ModalScreen[T | None], Generic[T]):
    """A small modal form: ctrl+s or enter saves, escape cancels, errors show inline."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]

    #: Saves the value through the client and says what happened (None: the caller saves).
    send: Callable[[T], Awaitable[str]] | None = None
    #: The id of the field the form opens in.
    FIRST: ClassVar[str] = "name"

    def on_mount(self) -> None:
        """Start in the first field."""
        self.query_one(f"#{self.FIRST}", Input).focus()

    def compose(self) -> ComposeResult:
        """The dialog: the form's own fields, then the error line and Save/Cancel."""
        with Vertical(id="dialog", classes="form"):
            yield from self.compose_fields()
            yield Label("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="save", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def compose_fields(self) -> ComposeResult:
        """The form's own fields, in the dialog above the buttons."""
        raise NotImplementedError

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The buttons do what the keys do."""
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in any field saves."""
        self.action_save()

    def action_cancel(self) -> None:
        """Close without a value."""
        self.dismiss(None)

    def action_save(self) -> None:
        """Validate; close with the value, or say what is wrong and stay open."""
        try:
            value = self.value()
        except ValidationError as exc:
            self.query_one("#error", Label).update(first_error(exc))
            return
        except ValueError as exc:
            self.query_one("#error", Label).update(str(exc))
            return
        if self.send is None:
            self.dismiss(value)
        else:
            self.run_worker(self._send(self.send, value), exclusive=True, group="save")

    async def _send(self, send: Callable[[T], Awaitable[str]], value: T) -> None:
        try:
            message = await send(value)
        except ClientError as exc:
            self.query_one("#error", Label).update(str(exc))
            return
        self.app.notify(message, markup=False)
        self.dismiss(value)

    def value(self) -> T:
        """The form's value; raises ValueError when it is invalid."""
        raise NotImplementedError


class QueueForm(FormScreen[QueueUpdate]):
    """A queue's concurrency cap and rate limit; empty fields mean no limit."""

    FIRST = "max_concurrent"

    def __init__(self, config: QueueConfig) -> None:
        super().__init__()
        self.config = config

    def compose_fields(self) -> ComposeResult:
        """One field per limit, filled with the current values."""
        yield Label(f"Queue [b]{self.config.name}[/b]: limits (empty = none)", markup=True)
        yield from compose_limits(self.config)

    def value(self) -> QueueUpdate:
        """Every field set explicitly, so a cleared field clears the limit on the manager."""
        fields = read_limits(self)
        # The full config's rules too (a rate needs a period), before the manager says so.
        QueueConfig.model_validate({**fields, "name": self.config.name})
        return QueueUpdate(**fields)


def compose_limits(c: QueueConfig) -> ComposeResult:
    """A queue's limit fields, filled with ``c``'s values."""

    def text(value: object) -> str:
        return "" if value is None else str(value)

    yield Label("Max concurrent tasks per worker")
    yield Input(text(c.max_concurrent), id="max_concurrent", type="integer")
    yield Label("Rate limit: tasks per (denominator x period)")
    with Horizontal(classes="rate"):
        yield Input(text(c.rate_numerator), id="rate_numerator", type="integer")
        yield Label(" per ")
        yield Input(text(c.rate_denominator), id="rate_denominator", type="integer")
        yield Select(
            PERIODS,
            value=str(c.rate_period) if c.rate_period else Select.NULL,
            id="rate_period",
            prompt="period",
        )


def read_limits(form: ModalScreen[Any]) -> dict[str, Any]:
    """The limit fields of ``form``, empty ones as None."""
    fields: dict[str, Any] = {}
    for key in ("max_concurrent", "rate_numerator", "rate_denominator"):
        raw = form.query_one(f"#{key}", Input).value.strip()
        fields[key] = int(raw) if raw else None
    period = form.query_one("#rate_period", Select).value
    fields["rate_period"] = None if period == Select.NULL else period
    return fields


class NewQueueForm(FormScreen[QueueConfig]):
    """A new queue: its name and, optionally, its limits."""

    def compose_fields(self) -> ComposeResult:
        """The name, then the limit fields, empty."""
        yield Label("New queue (limits: empty = none)")
        yield Label("Name")
        yield Input(id="name", placeholder="reports")
        yield from compose_limits(QueueConfig.model_construct(name=""))

    def value(self) -> QueueConfig:
        """The queue as the manager will store it (the name and limits checked here first)."""
        name = self.query_one("#name", Input).value.strip()
        return QueueConfig.model_validate({**read_limits(self), "name": name})


class QueueNamesForm(FormScreen[T]):
    """A form with a field of queue names, checked against (and shown with) the queues there
    are when it opened."""

    def __init__(self, known: list[str]) -> None:
        super().__init__()
        self.known = known


class RoleForm(QueueNamesForm[list[str]]):
    """A role's queues, in role order, as a comma-separated list (its strategy stays)."""

    FIRST = "queues"

    def __init__(self, role: str, queues: list[str], known: list[str]) -> None:
        super().__init__(known)
        self.role = role
        self.queues = queues

    def compose_fields(self) -> ComposeResult:
        """The list, and the queues that exist to choose from."""
        yield Label(f"Role [b]{self.role}[/b]: queues, in role order", markup=True)
        yield Input(", ".join(self.queues), id="queues", placeholder="default, reports")
        yield existing_queues(self.known)

    def value(self) -> list[str]:
        """The names typed, each an existing queue."""
        return known_queues(self.query_one("#queues", Input).value, self.known)


def existing_queues(known: list[str]) -> Label:
    """The hint beneath a field that takes queue names: the queues there are."""
    return Label(f"Existing queues: {', '.join(known) or '(none)'}", classes="hint")


def known_queues(raw: str, known: list[str]) -> list[str]:
    """The queue names in ``raw`` (commas or spaces between), each one of ``known``."""
    names = [n.strip() for n in raw.replace(" ", ",").split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"no such queue: {', '.join(unknown)}")
    return names


class NewRoleForm(QueueNamesForm[Role]):
    """A new role: its name and the queues its workers read, highest priority first."""

    def compose_fields(self) -> ComposeResult:
        """The name, the queue list, and the queues that exist to choose from."""
        yield Label("New role")
        yield Label("Name")
        yield Input(id="name", placeholder="heavy")
        yield Label("Queues, highest priority first")
        yield Input(id="queues", placeholder="reports, default")
        yield existing_queues(self.known)

    def value(self) -> Role:
        """The role, its queues each an existing one."""
        queues = known_queues(self.query_one("#queues", Input).value, self.known)
        return Role.model_validate(
            {"name": self.query_one("#name", Input).value.strip(), "queues": queues}
        )


class SubmitForm(QueueNamesForm[SubmitTaskRequest]):
    """A task to submit: its name (and version), its JSON parameters, its queue and priority."""

    def compose_fields(self) -> ComposeResult:
        """Name and version, parameters, queue; the queues that exist beneath."""
        yield Label("Submit a task")
        yield Label("Task name and version")
        with Horizontal(classes="row"):
            yield Input(id="name", placeholder="generate_report")
            yield Label(" version ")
            yield Input("1", id="version", type="integer")
        yield Label("Parameters (a JSON object, empty = none)")
        yield Input(id="parameters", placeholder='{"report_id": 42}')
        yield Label("Queue and priority (0-9, higher runs first)")
        with Horizontal(classes="row"):
            yield Input("default", id="queue")
            yield Label(" priority ")
            yield Input("5", id="priority", type="integer")
        yield existing_queues(self.known)

    def value(self) -> SubmitTaskRequest:
        """The request, checked by the API's model (and the parameters parsed) first."""
        raw = self.query_one("#parameters", Input).value.strip()
        try:
            parameters = json.loads(raw) if raw else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"parameters: not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(parameters, dict):
            raise ValueError("parameters: a JSON object ({...}) is needed")
        version = self.query_one("#version", Input).value.strip()
        priority = self.query_one("#priority", Input).value.strip()
        return SubmitTaskRequest.model_validate(
            {
                "name": self.query_one("#name", Input).value.strip(),
                "version": int(version) if version else 1,
                "queue": self.query_one("#queue", Input).value.strip() or "default",
                "parameters": parameters,
                "priority": int(priority) if priority else 5,
            }
        )
