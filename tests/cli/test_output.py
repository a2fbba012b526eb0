"""Rendering rules: a table on a terminal, plain TSV in a pipe, NO_COLOR, JSON, ids."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys

import pytest
from jobbers.cli import views
from jobbers.cli.output import Mode, Output, age, duration, machine_cell

from jobbers.api.schemas import Task, TaskPage


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def page() -> TaskPage:
    task = Task(name="add", parameters={"a": 1}, status="failed", last_error="Boom:\tbad\nthings")
    # As the client has it: parsed from the API's JSON, every field present.
    return TaskPage.model_validate_json(TaskPage(items=[task]).model_dump_json())


@pytest.fixture(autouse=True)
def _terminal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)


def test_a_terminal_gets_a_coloured_table(page: TaskPage) -> None:
    tty = Terminal()
    out = Output(stdout=tty)
    assert out.mode is Mode.TABLE
    out.listing(page, page.items, views.TASKS)
    text = tty.getvalue()
    assert "\x1b[1;31mfailed" in text and "STATUS" in text


def test_no_color_keeps_the_table_without_escapes(
    page: TaskPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    tty = Terminal()
    Output(stdout=tty).listing(page, page.items, views.TASKS)
    text = tty.getvalue()
    assert "\x1b[1mfailed" in text and "STATUS" in text, "bold stays: NO_COLOR is about colour"
    assert "31m" not in text


def test_a_pipe_gets_tab_separated_rows(page: TaskPage) -> None:
    pipe = io.StringIO()
    out = Output(stdout=pipe)
    assert out.mode is Mode.TSV
    out.listing(page, page.items, views.TASKS)
    (row,) = pipe.getvalue().splitlines()
    fields = row.split("\t")
    assert len(fields) == len(views.TASKS.columns)
    assert fields[-1] == "Boom: bad things", "tabs and newlines never break a row"


def test_json_is_compact_in_a_pipe_and_indented_on_a_terminal(page: TaskPage) -> None:
    pipe, tty = io.StringIO(), Terminal()
    Output(Mode.JSON, pipe).listing(page, page.items, views.TASKS)
    Output(Mode.JSON, tty).listing(page, page.items, views.TASKS)
    assert pipe.getvalue().count("\n") == 1
    assert json.loads(pipe.getvalue()) == json.loads(tty.getvalue()) == page.model_dump(mode="json")


def test_quiet_prints_ids(page: TaskPage) -> None:
    pipe = io.StringIO()
    Output(Mode.QUIET, pipe).listing(page, page.items, views.TASKS)
    assert pipe.getvalue() == f"{page.items[0].id}\n"


def test_cells() -> None:
    when = dt.datetime(2026, 3, 12, 10, 0, tzinfo=dt.UTC)
    assert machine_cell(when) == "2026-03-12T10:00:00Z"
    assert machine_cell(None) == "" and machine_cell(True) == "true"
    assert machine_cell(["a", "b"]) == "a,b" and machine_cell({"k": [1]}) == '{"k":[1]}'
    assert age(when, when + dt.timedelta(seconds=90)) == "1m"
    assert age(when + dt.timedelta(seconds=5), when) == "in 5.0s"
    assert [duration(s) for s in (0.42, 42, 3 * 3600, 2 * 86400)] == ["0.4s", "42s", "3h", "2d"]


def test_a_record_is_drawn_to_the_terminal_width_without_rich(
    page: TaskPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = page.items[0].model_dump()
    task = Task.model_validate({**row, "parameters": {"text": "word " * 30}})  # as status has it
    monkeypatch.setenv("COLUMNS", "60")
    tty = Terminal()
    Output(stdout=tty).record(task, task, views.TASK_FIELDS, str(task.id))
    lines = tty.getvalue().splitlines()
    assert lines[0] == f"\x1b[1mid              \x1b[0m  {task.id}"
    assert "\x1b[1;31mfailed\x1b[0m" in tty.getvalue() and "\x1b[2m-\x1b[0m" in tty.getvalue()
    wrapped = [line for line in lines if line.startswith(" " * 16)]
    assert len(wrapped) >= 2 and all(len(line) <= 60 for line in wrapped)
    monkeypatch.setenv("NO_COLOR", "1")
    plain = Terminal()
    Output(stdout=plain).record(task, task, views.TASK_FIELDS, str(task.id))
    assert "\x1b[1mfailed" in plain.getvalue(), "bold stays: NO_COLOR is about colour"
    assert "31m" not in plain.getvalue()
    pipe = io.StringIO()
    Output(Mode.TABLE, pipe).record(task, task, views.TASK_FIELDS, str(task.id))
    assert "\x1b" not in pipe.getvalue() and "status            failed" in pipe.getvalue()


def test_every_style_a_view_uses_has_a_code() -> None:
    from jobbers.cli.commands.system import HEALTH_FIELDS
    from jobbers.cli.output import _COLOURS, _EFFECTS

    words = set(" ".join(views.STATUS_STYLES.values()).split())
    for column in [*views.TASK_FIELDS, *views.QUEUE_FIELDS, *views.ROLE_FIELDS, *HEALTH_FIELDS]:
        if isinstance(column.style, str):
            words |= set(column.style.split())
    assert words <= _COLOURS.keys() | _EFFECTS.keys()


def test_the_wait_line_takes_a_progress_message_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task code writes progress messages: "[/]" in one is text, not rich markup to fail on."""
    from jobbers.cli import waiting

    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    task = Task(name="add", status="started", progress_message="step [/] of [bold]x")
    with waiting._spinner() as show:
        show(task)
    assert "step [/] of [bold]x" in tty.getvalue()
