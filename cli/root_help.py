"""``jobbers --help`` drawn without Typer, from data generated out of the Typer app.

Typer and its rich help take ~300 ms to start on a small VM, longer than the whole page is
worth, so the entry point (``main.py``) prints this instead: the same usage, text, options
and command panels, in boxes like Typer's, coloured on a terminal unless NO_COLOR is set.
The data lives in ``root_help_data.py``, written by ``python -m jobbers.cli.root_help``
from the app itself; ``tests/cli/test_root_help.py`` fails when it is stale (a command was
added or its docstring changed) and says to run that command.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

DATA_FILE = Path(__file__).with_name("root_help_data.py")
REGENERATE = "python -m jobbers.cli.root_help"

_RESET, _BOLD, _DIM, _CYAN, _YELLOW = "\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[36m", "\x1b[33m"
_Paint = Callable[[str, str], str]


def show(stream: TextIO | None = None) -> None:
    """Print the page on ``stream`` (stdout), as wide as the terminal and coloured if it is one."""
    out = stream or sys.stdout
    colour = out.isatty() and not os.environ.get("NO_COLOR")
    out.write(render(_width(out), colour))


def render(width: int, colour: bool = False) -> str:
    """The page for a terminal ``width`` columns wide."""
    from . import root_help_data as data

    paint = _painter(colour)
    lines = ["", " " + paint(_YELLOW, "Usage:") + " " + paint(_BOLD, data.USAGE), ""]
    for i, paragraph in enumerate(data.HELP):
        style = "" if i == 0 else _DIM  # as Typer: the summary plain, the rest dim
        lines += [" " + paint(style, line) for line in _wrap(paragraph, width - 2)]
        lines.append("")
    names = max(len(name) for name, _ in data.OPTIONS)
    lines += _panel("Options", data.OPTIONS, names, width, paint)
    commands = max(len(name) for _, rows in data.PANELS for name, _ in rows)
    for title, rows in data.PANELS:
        lines += _panel(title, rows, commands, width, paint)
    return "\n".join(lines) + "\n"


def _panel(
    title: str, rows: Sequence[tuple[str, str]], first: int, width: int, paint: _Paint
) -> Iterator[str]:
    """A rounded box titled ``title``: one row per (name, text), the text wrapped beside it."""
    inner = width - 4
    yield paint(_DIM, f"╭─ {title} " + "─" * max(0, width - len(title) - 5) + "╮")
    for name, text in rows:
        wrapped = _wrap(text, inner - first - 2) or [""]
        for i, line in enumerate(wrapped):
            label = paint(_BOLD + _CYAN, name.ljust(first)) if i == 0 else " " * first
            row = f"{label}  {line.ljust(inner - first - 2)}"
            yield paint(_DIM, "│") + f" {row} " + paint(_DIM, "│")
    yield paint(_DIM, "╰" + "─" * (width - 2) + "╯")


def _painter(colour: bool) -> _Paint:
    def paint(style: str, text: str) -> str:
        return f"{style}{text}{_RESET}" if colour and style and text else text

    return paint


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, max(width, 10), break_on_hyphens=False)


def _width(stream: TextIO) -> int:
    """Rich's choice, which Typer's pages follow: TERMINAL_WIDTH, COLUMNS, the terminal, 80."""
    for variable in ("TERMINAL_WIDTH", "COLUMNS"):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            return max(int(value), 40)
    if stream.isatty():
        try:
            return max(os.get_terminal_size(stream.fileno()).columns, 40)
        except (OSError, ValueError):
            pass
    return 80


# ---------------------------------------------------------------------- generating the data

_DATA_HEADER = f'''"""The top-level ``jobbers --help`` page as data, for ``root_help.py`` to draw.

Generated from the Typer app by `{REGENERATE}`: do not edit.
"""

# ruff: noqa: E501
# fmt: off
'''


def generate() -> str:
    """The source of ``root_help_data.py``, read from the Typer app (this loads Typer)."""
    import inspect

    import typer
    import typer.core
    import typer.main

    from .app import app

    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup), "the app has sub-commands"
    ctx = typer.Context(group, info_name="jobbers")
    usage = group.get_usage(ctx).removeprefix("Usage: ").strip()
    text = inspect.cleandoc(group.help or "").partition("\f")[0]
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    options = [
        (", ".join(param.opts), " ".join((getattr(param, "help", "") or "").split()))
        for param in group.get_params(ctx)
        if param.param_type_name == "option" and not getattr(param, "hidden", False)
    ]
    # Typer's grouping: commands by rich_help_panel in order of first use, unnamed ones first.
    panels: dict[str, list[tuple[str, str]]] = {"Commands": []}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        panel = getattr(command, "rich_help_panel", None) or "Commands"
        summary = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        panels.setdefault(panel, []).append((name, " ".join(summary.split())))
    out = [_DATA_HEADER, f"USAGE = {_literal(usage)}\n", "HELP: tuple[str, ...] = ("]
    out += [f"    {_literal(p)}," for p in paragraphs]
    out += [")\n", "OPTIONS: tuple[tuple[str, str], ...] = ("]
    out += [f"    ({_literal(name)}, {_literal(text)})," for name, text in options]
    out += [")\n", "PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ("]
    for title, rows in panels.items():
        if rows:
            out.append(f"    ({_literal(title)}, (")
            out += [f"        ({_literal(name)}, {_literal(text)})," for name, text in rows]
            out.append("    )),")
    out += [")", "# fmt: on"]
    return "\n".join(out) + "\n"


def _literal(text: str) -> str:
    """A Python string literal for ``text`` (JSON's escapes are Python's too)."""
    import json

    return json.dumps(text, ensure_ascii=False)


def main() -> None:
    """``python -m jobbers.cli.root_help``: rewrite ``root_help_data.py`` from the app."""
    DATA_FILE.write_text(generate())
    sys.stdout.write(f"wrote {DATA_FILE}\n")


if __name__ == "__main__":
    main()
