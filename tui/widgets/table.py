"""A DataTable that takes a whole page of rows every frame and keeps the operator's place."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.widgets import DataTable

from ..snapshot import Snapshot, TaskFilter
from .cells import Palette

SCROLLBAR = 1  # the vertical scrollbar's cells, kept free so a long page never scrolls sideways
PADDING = 2  # a cell's padding, one each side


@dataclass(frozen=True)
class Col:
    """One column: its key, header and the width it wants in cells.

    ``least`` is the narrowest it may be squeezed to (its cells are cut with an ellipsis);
    None keeps it at ``width``. A ``snap`` column is either whole or at ``least``, never in
    between (a 12-character tail of an id says no more than a 7-character one), and whole
    only when every other column has its full width. ``drop`` ranks the columns to hide
    when even the narrowest widths do not fit: the highest goes first, 0 never. ``grow``
    takes the width left over.
    """

    key: str
    label: str
    width: int
    right: bool = False
    least: int | None = None
    drop: int = 0
    grow: bool = False
    snap: bool = False

    @property
    def floor(self) -> int:
        """The narrowest this column may be."""
        return self.width if self.least is None else min(self.least, self.width)


def _cells(widths: Iterable[int]) -> int:
    return sum(w + PADDING for w in widths)


def fit(cols: Sequence[Col], width: int) -> list[Col]:
    """The columns laid out in ``width`` cells, so that nothing ever scrolls sideways.

    Columns are dropped (highest ``drop`` first) until their narrowest widths fit; then
    every squeezable column gives up cells in proportion to what it could give, and a
    ``grow`` column takes whatever is left. A terminal too narrow even for the columns that
    are never dropped keeps them at their narrowest (the one case that scrolls).
    """
    room = width - SCROLLBAR
    kept = list(cols)
    while _cells(c.floor for c in kept) > room and any(c.drop for c in kept):
        worst = max(c.drop for c in kept)
        kept.remove(next(c for c in reversed(kept) if c.drop == worst))
    widths = [c.floor if c.snap else c.width for c in kept]
    excess = _cells(widths) - room
    if excess <= 0:
        for i, c in enumerate(kept):
            if c.snap and _cells(widths) + c.width - c.floor <= room:
                widths[i] = c.width
    else:
        slack = [w - c.floor for c, w in zip(kept, widths, strict=True)]
        cut = min(excess, sum(slack))
        shares = [s * cut // max(1, sum(slack)) for s in slack]
        # Hand the cells lost to rounding to the columns with the most slack still left.
        for i in sorted(range(len(kept)), key=lambda i: shares[i] - slack[i]):
            if sum(shares) >= cut:
                break
            if shares[i] < slack[i]:
                shares[i] += 1
        widths = [w - s for w, s in zip(widths, shares, strict=True)]
    spare = room - _cells(widths)
    grow = next((i for i, c in enumerate(kept) if c.grow), None)
    if spare > 0 and grow is not None:
        widths[grow] += spare
    return [replace(c, width=w) for c, w in zip(kept, widths, strict=True)]


Row = tuple[str, Sequence[Text]]


class LiveTable(DataTable[Text]):
    """Rows replaced every frame by key, keeping the cursor's row and the scroll position.

    Subclasses say which columns they want at a width (``columns_for``; ``fit`` squeezes
    and drops them to the width) and turn a frame into rows (``frame_rows``, cutting each
    cell to ``width_of`` its column); they never call the client. The last frame is kept,
    so a filter or a resize re-renders at once without waiting for the next poll.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, cell_padding=1)
        self.filter = TaskFilter()
        self.snapshot: Snapshot | None = None
        self._spec: list[Col] = []
        self._order: dict[int, int] = {}

    # ------------------------------------------------------------------ for subclasses

    def columns_for(self, width: int) -> list[Col]:
        """The columns wanted at ``width`` cells, before ``fit`` squeezes them to it."""
        raise NotImplementedError

    def frame_rows(self, snapshot: Snapshot) -> list[Row] | None:
        """The rows of ``snapshot``, or None when it carries nothing for this table."""
        raise NotImplementedError

    @property
    def palette(self) -> Palette:
        """The theme's colours."""
        return Palette.of(self.app)

    def width_of(self, key: str) -> int:
        """The current width of column ``key`` (0 when hidden)."""
        return next((c.width for c in self._spec if c.key == key), 0)

    # ------------------------------------------------------------------ feeding

    def update(self, snapshot: Snapshot) -> None:
        """Show a frame; a frame without this table's page keeps the rows shown."""
        self._ensure_columns()
        rows = self.frame_rows(snapshot)
        if rows is None:
            self.snapshot = self.snapshot or snapshot
            return
        self.snapshot = snapshot
        self.set_rows(rows)

    def set_filter(self, value: TaskFilter) -> None:
        """Narrow the rows to ``value`` and re-render the last frame."""
        self.filter = value
        self.render_rows()

    def render_rows(self) -> None:
        """Re-render the last frame (after a filter change, a mark, or a resize)."""
        self._ensure_columns()
        rows = self.frame_rows(self.snapshot) if self.snapshot is not None else None
        self.set_rows(rows or [])

    def on_resize(self, event: Resize) -> None:
        """Columns adapt to the width: full ids and wide sparklines on a big terminal."""
        if self._ensure_columns():
            self.render_rows()

    @property
    def current_key(self) -> str | None:
        """The key of the row under the cursor."""
        rows = self.ordered_rows
        if not 0 <= self.cursor_row < len(rows):
            return None
        return rows[self.cursor_row].key.value

    # ------------------------------------------------------------------ mechanics

    def _ensure_columns(self) -> bool:
        width = self.size.width or self.app.size.width
        spec = fit(self.columns_for(width), width)
        if spec == self._spec:
            return False
        self._spec = spec
        self.clear(columns=True)
        for col in spec:
            label = Text(col.label, justify="right" if col.right else "left", style="bold")
            self.add_column(label, width=col.width, key=col.key)
        return True

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace the rows, keeping the cursor on the same key and the scroll position.

        Kept rows are updated in place and gone ones removed, so nothing jumps; only a page
        with no row in common with the last (a new filter, another page) starts afresh.
        """
        old_key, old_index = self.current_key, self.cursor_row
        wanted = [key for key, _ in rows]
        if not set(wanted) & {k.value for k in self.rows}:
            self.clear()
        for gone in [k for k in self.rows if k.value not in set(wanted)]:
            self.remove_row(gone)
        keys = [c.key for c in self._spec]
        self._order.clear()
        for index, (key, cells) in enumerate(rows):
            if key in self.rows:
                current = self.get_row(key)
                for col, old, new in zip(keys, current, cells, strict=False):
                    if not _same(old, new):
                        self.update_cell(key, col, new)
                self._order[id(self.get_row(key)[0])] = index
            else:
                self.add_row(*cells, key=key)
                self._order[id(cells[0])] = index
        if [row.key.value for row in self.ordered_rows] != wanted:
            self.sort(key=lambda values: self._order[id(values[0])])
        if not rows:
            return
        target = wanted.index(old_key) if old_key in wanted else min(old_index, len(rows) - 1)
        if target != self.cursor_row or old_key not in wanted:
            self.move_cursor(row=target, scroll=True, animate=False)


def _same(old: Text, new: Text) -> bool:
    """Text equality that also sees a change of colour alone."""
    return old.plain == new.plain and old.style == new.style and old.spans == new.spans
