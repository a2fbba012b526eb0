"""Forms: a queue's limits, and a role's queue list. They return values; the caller saves."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from jobbers.schemas import QueueConfig, QueueUpdate, RatePeriod

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

    def compose_buttons(self) -> ComposeResult:
        """The error line and Save/Cancel."""
        yield Label("", id="error", classes="error")
        with Horizontal(classes="buttons"):
            yield Button("Save (ctrl+s)", id="save", variant="primary")
            yield Button("Cancel (esc)", id="cancel")

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
        self.dismiss(value)

    def value(self) -> T:
        """The form's value; raises ValueError when it is invalid."""
        raise NotImplementedError


class QueueForm(FormScreen[QueueUpdate]):
    """A queue's concurrency cap and rate limit; empty fields mean no limit."""

    def __init__(self, config: QueueConfig) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        """One field per limit, filled with the current values."""
        c = self.config

        def text(value: object) -> str:
            return "" if value is None else str(value)

        with Vertical(id="dialog", classes="form"):
            yield Label(f"Queue [b]{c.name}[/b]: limits (empty = none)", markup=True)
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
            yield from self.compose_buttons()

    def on_mount(self) -> None:
        """Start in the first field."""
        self.query_one("#max_concurrent", Input).focus()

    def value(self) -> QueueUpdate:
        """Every field set explicitly, so a cleared field clears the limit on the manager."""
        fields: dict[str, Any] = {}
        for key in ("max_concurrent", "rate_numerator", "rate_denominator"):
            raw = self.query_one(f"#{key}", Input).value.strip()
            fields[key] = int(raw) if raw else None
        period = self.query_one("#rate_period", Select).value
        fields["rate_period"] = None if period == Select.NULL else period
        # The full config's rules too (a rate needs a period), before the manager says so.
        QueueConfig.model_validate({**fields, "name": self.config.name})
        return QueueUpdate(**fields)


class RoleForm(FormScreen[list[str]]):
    """A role's queues, in priority order, as a comma-separated list."""

    def __init__(self, role: str, queues: list[str], known: list[str]) -> None:
        super().__init__()
        self.role = role
        self.queues = queues
        self.known = known

    def compose(self) -> ComposeResult:
        """The list, and the queues that exist to choose from."""
        with Vertical(id="dialog", classes="form"):
            yield Label(f"Role [b]{self.role}[/b]: queues, highest priority first", markup=True)
            yield Input(", ".join(self.queues), id="queues", placeholder="default, reports")
            yield Label(f"Existing queues: {', '.join(self.known) or '(none)'}", classes="hint")
            yield from self.compose_buttons()

    def on_mount(self) -> None:
        """Start in the field."""
        self.query_one("#queues", Input).focus()

    def value(self) -> list[str]:
        """The names typed, each an existing queue."""
        raw = self.query_one("#queues", Input).value
        names = [n.strip() for n in raw.replace(" ", ",").split(",") if n.strip()]
        unknown = [n for n in names if n not in self.known]
        if unknown:
            raise ValueError(f"no such queue: {', '.join(unknown)}")
        return names
