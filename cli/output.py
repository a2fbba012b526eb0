"""How command results are printed: stdout is data, stderr is for people.

Four modes, one per audience:

* ``json`` (``--json`` / ``-o json``): the API's JSON document, exactly one per command;
* ``quiet`` (``-q``): ids only, one per line, for ``xargs`` and ``jobbers retry -``;
* ``tsv`` (default when stdout is not a terminal): plain tab-separated rows, no header;
* ``table`` (default on a terminal): a rich table with colours (``NO_COLOR`` turns them off).

Rich is imported only when a table or a spinner is drawn.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console
    from rich.text import Text

    Document = BaseModel | Sequence[BaseModel]
    """What ``--json`` prints: the API's answer, or a list of answers for a several-id command."""


class Mode(StrEnum):
    """What ``-o/--output`` accepts."""

    TABLE = "table"
    TSV = "tsv"
    JSON = "json"
    QUIET = "quiet"


# NamedTuples rather than dataclasses: `dataclasses` loads `inspect`, ~15 ms of the quick
# `jobbers status` path.
class Column(NamedTuple):
    """One column of a listing: its key, how to read the value, and how a table shows it.

    ``header`` names the field in ``key<TAB>value`` output; ``label`` (default: the header)
    heads the table column; ``human`` formats the cell for people. When the terminal is too
    narrow only ``flex`` columns (free text) give up width, cut with an ellipsis, or folded
    onto several lines if they ``wrap``; the others keep their full width, so ids, names and
    statuses are never cut. ``table`` and ``tsv`` say which outputs show the column (a table
    may merge two TSV columns into one cell).
    """

    header: str
    value: Callable[[Any], object]
    style: Callable[[Any], str] | str = ""
    human: Callable[[Any], str] | None = None
    label: str | None = None
    flex: bool = False
    wrap: bool = False
    table: bool = True
    tsv: bool = True


class View(NamedTuple):
    """How one kind of record is listed (columns) and identified (``-q``)."""

    columns: Sequence[Column]
    ident: Callable[[Any], str]


# Terminal escape sequences (CSI such as colours and cursor moves, OSC such as titles and
# hyperlinks, and the two-byte ones), then any other control character but tab and newline.
_ESCAPES = (
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"
_UNSAFE: re.Pattern[str] | None = None


def clean(text: str) -> str:
    """``text`` without terminal escape sequences or control characters (tab, newline stay).

    Task errors, progress messages and results are written by task code, so they are
    anyone's text: printed raw, an escape sequence in one could recolour, retitle or
    rewrite the operator's terminal, or a stray control character break a TSV row.
    """
    global _UNSAFE  # compiled on first use: `re` patterns cost start-up time otherwise
    if text.isprintable():
        return text
    if _UNSAFE is None:
        _UNSAFE = re.compile(f"{_ESCAPES}|{_CONTROLS}")
    return _UNSAFE.sub("", text)


def plural(count: int, noun: str) -> str:
    """``1 task``, ``2 tasks``: the count with its noun, for sentences people read."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def colour_enabled(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def machine_cell(value: object) -> str:
    """A value as scripts read it: ISO times, JSON for structures, empty for None."""
    match value:
        case None:
            return ""
        case bool():
            return "true" if value else "false"
        case Enum():
            return str(value.value)
        case dt.datetime():
            return value.isoformat().replace("+00:00", "Z")
        case float():
            return f"{value:g}"
        case list() | tuple():
            return ",".join(machine_cell(v) for v in value)
        case dict():
            return json.dumps(value, separators=(",", ":"), default=str)
    # Tabs and newlines would break the row structure a pipe relies on.
    return clean(str(value)).replace("\t", " ").replace("\n", " ")


def age(when: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """A compact age like kubectl's: 5s, 3m, 2h, 4d (``in 5s`` for the future)."""
    if when is None:
        return "-"
    seconds = ((now or dt.datetime.now(dt.UTC)) - when).total_seconds()
    return duration(seconds) if seconds >= 0 else f"in {duration(-seconds)}"


def duration(seconds: float | None) -> str:
    """Seconds as 0.4s, 42s, 3m, 2h or 4d."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def human_cell(value: object) -> str:
    """A value as people read it in a table."""
    match value:
        case None:
            return "-"
        case dt.datetime():
            return age(value)
        case float():
            return f"{value:g}"
        case list() | tuple():
            return ", ".join(human_cell(v) for v in value) or "-"
    return machine_cell(value)


class Output:
    """The renderer of one command invocation."""

    def __init__(self, mode: Mode | None = None, stdout: TextIO | None = None) -> None:
        self.stdout = stdout or sys.stdout
        self.mode = mode or (Mode.TABLE if self.stdout.isatty() else Mode.TSV)

    # ------------------------------------------------------------------ data (stdout)

    def listing(self, document: Document, rows: Iterable[Any], view: View) -> None:
        """Print a list: the whole document as JSON, or its rows as ids, TSV or a table."""
        if self.mode is Mode.JSON:
            self.json(document)
        elif self.mode is Mode.QUIET:
            self.lines(view.ident(row) for row in rows)
        elif self.mode is Mode.TSV:
            columns = [c for c in view.columns if c.tsv]
            self.lines("\t".join(machine_cell(c.value(row)) for c in columns) for row in rows)
        else:
            self._table(list(rows), view)

    def record(self, document: Document, obj: Any, fields: Sequence[Column], ident: str) -> None:
        """Print one object: the document as JSON, or the object's id, fields as TSV or table."""
        if self.mode is Mode.JSON:
            self.json(document)
        elif self.mode is Mode.QUIET:
            self.lines([ident])
        elif self.mode is Mode.TSV:
            self.lines(f"{c.header}\t{machine_cell(c.value(obj))}" for c in fields)
        else:
            self._fields(obj, fields)

    def done(self, document: Document, message: str, idents: Sequence[str]) -> None:
        """Report an action: the document as JSON, the ids with ``-q``, else a sentence."""
        if self.mode is Mode.JSON:
            self.json(document)
        else:
            self.lines(idents if self.mode is Mode.QUIET else [clean(message)])

    def json(self, document: Document) -> None:
        """Print the API's JSON: compact in a pipe, indented on a terminal."""
        indent = 2 if self.stdout.isatty() else None
        if isinstance(document, Sequence):
            data = [d.model_dump(mode="json", exclude_unset=True) for d in document]
            text = json.dumps(data, indent=indent, separators=None if indent else (",", ":"))
        else:
            text = document.model_dump_json(exclude_unset=True, indent=indent)
        self.stdout.write(text + "\n")

    def lines(self, lines: Iterable[str]) -> None:
        """Print plain lines."""
        for line in lines:
            self.stdout.write(line + "\n")

    def text(self, text: str) -> None:
        """Print raw text as it is (``jobbers metrics``)."""
        self.stdout.write(text if text.endswith("\n") else text + "\n")

    # ------------------------------------------------------------------ people (stderr)

    def note(self, message: str) -> None:
        """A diagnostic for people, on stderr, never mixed into the data."""
        sys.stderr.write(message + "\n")

    @contextlib.contextmanager
    def progress(self, total: int, label: str) -> Iterator[Callable[[int], None]]:
        """A progress bar on stderr for long batches (people only); yields ``advance(n)``."""
        if total <= 1 or not sys.stderr.isatty():
            yield lambda n: None
            return
        from rich.console import Console
        from rich.progress import Progress

        console = Console(stderr=True, no_color=not colour_enabled(sys.stderr))
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda n: bar.advance(task, n)

    def _console(self) -> Console:
        from rich.console import Console

        return Console(file=self.stdout, no_color=not colour_enabled(self.stdout), soft_wrap=False)

    def _table(self, rows: list[Any], view: View) -> None:
        from rich.table import Table

        if not rows:
            self.note("(none)")
            return
        table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
        columns = [c for c in view.columns if c.table]
        labels = [(c.label or c.header).upper() for c in columns]
        cells = [[_styled(c, row) for c in columns] for row in rows]
        natural = [
            max(len(labels[i]), *(r[i].cell_len for r in cells)) for i in range(len(columns))
        ]
        console = self._console()
        # Fixed columns keep their natural width; flex ones share what is left (min 8).
        fixed = sum(w for c, w in zip(columns, natural, strict=True) if not c.flex)
        flexible = sum(1 for c in columns if c.flex) or 1
        share = max(8, (console.width - fixed - len(columns) + 1) // flexible)
        for column, label, width in zip(columns, labels, natural, strict=True):
            table.add_column(
                label,
                overflow="fold" if column.wrap else "ellipsis",
                no_wrap=not column.wrap,
                min_width=None if column.flex else width,
                # A flex column gives up width, never its header's.
                max_width=max(share, len(label)) if column.flex else None,
            )
        for row_cells in cells:
            table.add_row(*row_cells)
        console.print(table)

    def _fields(self, obj: Any, fields: Sequence[Column]) -> None:
        # Drawn without rich (~80 ms to import): `jobbers status` on a terminal stays quick.
        labels = [field.label or field.header for field in fields]
        width = max(map(len, labels))
        room = max(_terminal_width(self.stdout) - width - 2, 20)
        paint = _painter(self.stdout)
        for label, field in zip(labels, fields, strict=True):
            text, style = _cell(field, obj)
            lines = [part for line in text.split("\n") for part in _wrap(line, room)]
            for i, line in enumerate(lines):
                head = paint("bold", label.ljust(width)) if i == 0 else " " * width
                self.stdout.write(f"{head}  {paint(style, line)}".rstrip() + "\n")


def _cell(column: Column, row: Any) -> tuple[str, str]:
    """A table cell's human text and style (dim for a missing value)."""
    value = column.value(row)
    text = clean(column.human(row)) if column.human else human_cell(value)
    style = column.style(row) if callable(column.style) else column.style
    return text, "dim" if value is None else style


def _styled(column: Column, row: Any) -> Text:
    """A table cell as a rich Text (so no markup is parsed)."""
    from rich.text import Text

    text, style = _cell(column, row)
    return Text(text, style=style)


# The style words the views use, as terminal codes; colours go with NO_COLOR, bold and dim stay
# (as rich does it).
_EFFECTS = {"bold": "1", "dim": "2"}
_COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36"}


def _painter(stream: TextIO) -> Callable[[str, str], str]:
    """``paint(style, text)`` for ``stream``: escape codes on a terminal only."""
    tty, colour = stream.isatty(), colour_enabled(stream)

    def paint(style: str, text: str) -> str:
        codes = [
            _EFFECTS.get(word) or (_COLOURS.get(word) if colour else None) for word in style.split()
        ]
        sgr = ";".join(c for c in codes if c)
        return f"\x1b[{sgr}m{text}\x1b[0m" if tty and sgr and text else text

    return paint


def _wrap(line: str, width: int) -> list[str]:
    """``line`` in pieces of at most ``width`` columns, cut at spaces, long words folded."""
    import textwrap

    return textwrap.wrap(line, width, break_on_hyphens=False, replace_whitespace=False) or [""]


def _terminal_width(stream: TextIO) -> int:
    """The width rich would use: COLUMNS, else the terminal's, else 80."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if stream.isatty():
        try:
            return os.get_terminal_size(stream.fileno()).columns or 80
        except (OSError, ValueError):
            pass
    return 80
