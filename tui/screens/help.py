"""``?``: every key of every view, read from the bindings themselves so it never drifts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

NAVIGATION = [
    ("↑ ↓ j k", "move the cursor"),
    ("pgup pgdn g G", "scroll the table a screen, to the top, to the bottom"),
    ("tab", "next table or field"),
    ("enter", "open: queue → its running tasks, task → detail, worker → its tasks,"),
    ("", "schedule → its last task"),
    ("click", "tabs, rows and buttons work with the mouse"),
]
COLUMNS = [
    ("Done ~", "overview: tasks completed per minute, the last 30 minutes"),
    ("Depth ~", "overview: waiting tasks at each refresh, the last 180 refreshes"),
    ("‖ name", "a paused queue: it accepts tasks, no worker starts them"),
    ("Heartbeat", "age/limit: amber near max_heartbeat_interval, red LATE past it"),
    ("Stalled", "running view, beneath: tasks the cleaner marked stalled (r retries)"),
    ("Due in", "scheduled: time until the retry or run time; negative when overdue"),
    ("Next in", "schedules: time until the next tick; — while paused"),
    ("Attempt", "counted from 1 over the task's life, as the CLI counts it"),
]
FILTERS = [
    ("name:TASK", "DLQ and running: task name (DLQ filtered by the manager)"),
    ("queue:NAME", "running, DLQ, scheduled: filtered by the manager; overview: that queue"),
    ("version:N", "DLQ: task version"),
    ("other words", "match any visible column of the page"),
]


def _bindings(app: App[object], bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    views: list[Binding] = []
    for b in bindings:
        binding = b if isinstance(b, Binding) else Binding(*b)
        if binding.action.startswith("show_view"):
            views.append(binding)  # one line for all of them
        elif binding.description:
            keys = [k.strip() for k in binding.key.split(",")]
            shown = ", ".join(app.get_key_display(Binding(k, binding.action)) for k in keys)
            rows.append((shown, binding.tooltip or binding.description))
    if views:
        numbers = " ".join(b.key for b in views)
        rows.insert(0, (numbers, "views: " + ", ".join(b.description for b in views)))
    return rows


class HelpScreen(ModalScreen[None]):
    """The key map, by view; escape, ``q`` or ``?`` closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, sections: list[tuple[str, Iterable[BindingType]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        """One table: global keys, then each view's, then navigation and filters."""
        table = Table(box=None, show_header=False, padding=(0, 2), expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        groups = [(title, _bindings(self.app, b)) for title, b in self.sections]
        groups += [("Navigation", NAVIGATION), ("Filter (/)", FILTERS), ("Columns", COLUMNS)]
        for title, rows in groups:
            if not rows:
                continue
            table.add_row(Text(title, style="reverse"), "")
            for key, what in rows:
                table.add_row(key, what)
            table.add_row("", "")
        with Vertical(id="dialog", classes="help"):
            with VerticalScroll():
                yield Static(table)
            yield Footer()

    def action_close(self) -> None:
        """Back to where you were."""
        self.dismiss(None)


def own_bindings(cls: type, shared: tuple[type, ...]) -> list[BindingType]:
    """The bindings ``cls`` and its bases add on top of the ``shared`` base classes."""
    out: list[BindingType] = []
    for klass in cls.__mro__:
        if klass in shared:
            break
        out.extend(klass.__dict__.get("BINDINGS", []))
    return out
