"""``jobbers --help`` without Typer: current with the app, the same panels, coloured on a TTY."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from jobbers.cli import root_help
from jobbers.cli.app import app
from typer.testing import CliRunner

import jobbers
from tests.cli.conftest import run_entry_point


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_COLOR", "COLUMNS", "TERMINAL_WIDTH", "_JOBBERS_COMPLETE"):
        monkeypatch.delenv(name, raising=False)


def test_the_generated_data_is_current() -> None:
    assert root_help.DATA_FILE.read_text() == root_help.generate(), (
        "cli/root_help_data.py is stale (a command, option or docstring changed): "
        f"run `{root_help.REGENERATE}` from the repo root"
    )


def panels(page: str) -> list[tuple[str, list[str]]]:
    """(title, first word of each row) per box, and the rows' text, from a drawn help page."""
    found: list[tuple[str, list[str]]] = []
    for line in page.splitlines():
        if title := re.match(r"╭─ (.+?) ─", line):
            found.append((title.group(1), []))
        elif line.startswith("│") and found:
            found[-1][1].append(line.strip("│ "))
    return found


def test_the_page_shows_what_typers_page_shows() -> None:
    """Same boxes, commands and summaries as Typer's own help, at a width that wraps nothing."""
    typer_page = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "300"}).stdout
    ours = root_help.render(300)
    theirs, mine = panels(typer_page), panels(ours)
    assert [t for t, _ in mine] == [t for t, _ in theirs]
    assert [t for t, _ in mine][:2] == ["Options", "Tasks"]
    for (title, rows), (_, their_rows) in zip(mine, theirs, strict=True):
        if title == "Options":  # Typer adds a <type> column to options
            assert [r.split()[0] for r in rows] == [r.split()[0] for r in their_rows]
        else:
            assert [" ".join(r.split()) for r in rows] == [" ".join(r.split()) for r in their_rows]
    for text in ("Usage: jobbers [OPTIONS] COMMAND [ARGS]...", "Exit status: 0 ok"):
        assert text in ours and text in typer_page


def test_colour_on_a_terminal_only_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tty = Terminal()
    root_help.show(tty)
    assert "\x1b[1m\x1b[36mstatus" in tty.getvalue()
    pipe = io.StringIO()
    root_help.show(pipe)
    assert "\x1b" not in pipe.getvalue() and pipe.getvalue() == root_help.render(80)
    monkeypatch.setenv("NO_COLOR", "1")
    plain = Terminal()
    root_help.show(plain)
    assert "\x1b" not in plain.getvalue()


def test_the_page_fits_the_width() -> None:
    for width in (60, 80, 123):
        lines = root_help.render(width).splitlines()
        assert max(len(line) for line in lines) == width
        assert all(len(line) == width for line in lines if line.startswith(("│", "╭", "╰")))


def test_help_version_and_no_arguments_load_no_typer(tmp_path: Path) -> None:
    env = {"COLUMNS": "100"}
    page, loaded = run_entry_point(tmp_path, "--help", env=env)
    assert page.returncode == 0 and page.stdout == root_help.render(100) and page.stderr == ""
    assert not loaded & {"typer", "click", "rich", "pydantic", "httpx", "jobbers.cli.app"}
    bare, _ = run_entry_point(tmp_path, env=env)
    assert bare.returncode == 2 and bare.stdout == page.stdout  # as Typer's no_args_is_help
    version, loaded = run_entry_point(tmp_path, "--version")
    assert (version.returncode, version.stdout) == (0, f"jobbers {jobbers.__version__}\n")
    assert "typer" not in loaded
    # Anything else is Typer's, so this check does see Typer when it loads:
    other, loaded = run_entry_point(tmp_path, "queues", "--help")
    assert other.returncode == 0 and "typer" in loaded and "pause" in other.stdout


def test_shell_completion_still_reaches_typer(tmp_path: Path) -> None:
    env = {"_JOBBERS_COMPLETE": "complete_bash", "COMP_WORDS": "jobbers qu", "COMP_CWORD": "1"}
    done, _ = run_entry_point(tmp_path, env=env)
    assert done.stdout.split() == ["queues"], done


def test_a_reader_that_left_gets_no_traceback() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `jobbers --help | head -0` would leave it
    try:
        done = subprocess.run(
            [sys.executable, "-m", "jobbers.cli", "--help"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert done.returncode == 1 and done.stderr == ""
