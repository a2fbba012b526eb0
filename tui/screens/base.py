"""What every view shares: the frame plumbing, the filter bar, paging and client actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import ClassVar, Generic, TypeVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from jobbers.api.client import ClientError

from ..console import Console
from ..messages import PollFailed
from ..snapshot import PageQuery, Snapshot, TaskFilter, View
from ..widgets.detail import TaskDetailView
from ..widgets.header import Banner, StatusLine, ViewTabs
from ..widgets.table import LiveTable
from ..widgets.totals import Totals
from .confirm import ConfirmScreen

PAGE_LIMIT = 100
# Brackets turn pages in every paged view: ``p`` pauses a queue wherever it means anything,
# and pgup/pgdn already scroll within the table.
PAGE_KEYS: list[BindingType] = [
    Binding("left_square_bracket", "prev_page", "Prev", tooltip="Previous page"),
    Binding("right_square_bracket", "next_page", "Next", tooltip="Next page"),
]
FED: tuple[type[Widget], ...] = (StatusLine, Banner, Totals, LiveTable, TaskDetailView)
# The filter of the views whose pages the manager filters by queue and task name.
QUEUE_AND_NAME_HINT = "queue:NAME name:TASK or text (enter applies, escape cancels)"
TableT = TypeVar("TableT", bound=LiveTable)


class LiveScreen(Screen[None]):
    """A screen the poller feeds: it names the page it needs and shows every frame."""

    def page_query(self) -> PageQuery | None:
        """The page the next frame should carry for this screen (None: stats only)."""
        return None

    def show(self, snapshot: Snapshot) -> None:
        """Feed a frame to every renderer on the screen."""
        for cls in FED:
            for widget in self.query(cls):
                widget.update(snapshot)  # type: ignore[attr-defined]

    def show_failure(self, failure: PollFailed | None) -> None:
        """Show (or clear, with None) the outage banner; the data on screen stays."""
        for widget in self.query(Banner):
            widget.set_failure(failure)
        for line in self.query(StatusLine):
            line.set_failure(failure)

    @property
    def japp(self) -> Console:
        """The app, typed."""
        return cast("Console", self.app)

    def act(self, label: str, call: Callable[[], Awaitable[str]]) -> None:
        """Run a client call off the input path; its outcome is a toast, then a fresh frame.

        The worker belongs to the app, so closing a modal never cancels an action under way.
        """
        app = self.japp

        async def run() -> None:
            try:
                message = await call()
            except ClientError as exc:
                app.notify(f"{label} failed: {exc}", severity="error", timeout=8, markup=False)
                return
            app.notify(message, title=label, markup=False)
            app.poll_now()

        app.run_worker(run(), group="action")

    def confirm(self, question: str, label: str, call: Callable[[], Awaitable[str]]) -> None:
        """Ask first; run ``call`` only on a yes. Every destructive action goes through here."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.act(label, call)

        self.app.push_screen(ConfirmScreen(question), answered)


class LiveModal(LiveScreen, ModalScreen[None]):
    """A modal over the view, fed every frame: its heading, the outage banner (the manager
    may go away while reading), its body and the footer; ``close`` goes back, refreshed."""

    def heading(self) -> str:
        """The title line."""
        raise NotImplementedError

    def compose_body(self) -> ComposeResult:
        """The modal's own widgets."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        """The shared dialog around ``compose_body``."""
        with Vertical(id="dialog", classes="detail"):
            yield Static(self.heading(), classes="caption title")
            yield Banner(self.japp.client.url, self.japp.refresh_s)
            yield from self.compose_body()
            yield Footer()

    def action_close(self) -> None:
        """Back to the view, refreshed."""
        self.dismiss(None)
        self.japp.poll_now()


class RecordModal(LiveModal):
    """A modal over one record named by its id (a task, a workflow): ``KIND`` and the id
    head it, its renderer scrolls in the body."""

    KIND: ClassVar[str]

    def __init__(self, record_id: str) -> None:
        super().__init__()
        self.record_id = record_id

    def heading(self) -> str:
        """The record's kind and id."""
        return f"{self.KIND} {self.record_id}"

    def renderer(self) -> Widget:
        """The widget that draws the record from each frame."""
        raise NotImplementedError

    def compose_body(self) -> ComposeResult:
        """The scrollable record."""
        with VerticalScroll(id="detail-scroll"):
            yield self.renderer()


class ViewScreen(LiveScreen):
    """A full-screen view: tabs, status, banner, the view's body, the filter bar, the footer."""

    VIEW: ClassVar[View]
    PAGED: ClassVar[bool] = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = TaskFilter()
        self.cursor: str | None = None
        self.cursors: list[str | None] = []
        self.last: Snapshot | None = None

    def compose(self) -> ComposeResult:
        """The shared frame around ``compose_body``."""
        yield ViewTabs(self.VIEW)
        yield StatusLine(self.japp.client.url, self.japp.refresh_s)
        yield Banner(self.japp.client.url, self.japp.refresh_s)
        yield from self.compose_body()
        yield Input(id="filter", placeholder=self.filter_hint())
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """The view's own widgets."""
        raise NotImplementedError

    def filter_hint(self) -> str:
        """What ``/`` accepts in this view."""
        return "text to match (enter applies, escape cancels)"

    def caption(self, snapshot: Snapshot) -> str:
        """The line above the table: counts, filter, page."""
        return ""

    def tables(self) -> Iterable[LiveTable]:
        """The view's tables, in focus order."""
        return self.query(LiveTable)

    def page_query(self) -> PageQuery:
        """This view's page, with its filter and cursor."""
        return PageQuery(self.VIEW, self.filter, PAGE_LIMIT, self.cursor)

    def show(self, snapshot: Snapshot) -> None:
        """Feed the renderers and the caption."""
        self.last = snapshot
        super().show(snapshot)
        for caption in self.query("#caption").results(Static):
            caption.update(self.caption(snapshot), layout=False)  # one line, always

    def on_mount(self) -> None:
        """Start from the app's last frame, so a view switch never shows an empty screen."""
        self.query_one("#filter", Input).display = False
        self.refresh_from_app()

    def on_screen_resume(self) -> None:
        """Coming back to the view: show the latest frame and the outage state at once."""
        self.refresh_from_app()

    def refresh_from_app(self) -> None:
        """Show the app's latest frame and failure, if any."""
        if self.japp.last is not None:
            self.show(self.japp.last)
        self.show_failure(self.japp.failure)
        for line in self.query(StatusLine):
            line.frozen = self.japp.frozen

    # ------------------------------------------------------------------ filter

    def action_filter(self) -> None:
        """Open the filter bar with the current filter."""
        bar = self.query_one("#filter", Input)
        bar.value = str(self.filter)
        bar.display = True
        bar.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Apply the typed filter (an empty one clears it)."""
        if event.input.id == "filter":
            self.apply_filter(TaskFilter.parse(event.value))

    def apply_filter(self, value: TaskFilter) -> None:
        """Filter the tables now, and fetch a page the API filtered when the view has one."""
        bar = self.query_one("#filter", Input)
        bar.display = False
        self.filter = value
        self.cursor, self.cursors = None, []
        for table in self.tables():
            table.set_filter(value)
        next(iter(self.tables())).focus()
        if self.last is not None:
            self.show(self.last)
        self.japp.poll_now()

    def action_clear_filter(self) -> None:
        """Escape: close the filter bar, or clear the filter."""
        bar = self.query_one("#filter", Input)
        if bar.display:
            bar.display = False
            next(iter(self.tables())).focus()
        elif self.filter:
            self.apply_filter(TaskFilter())

    # ------------------------------------------------------------------ paging

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Paging keys show only in paged views."""
        return self.PAGED or action not in ("next_page", "prev_page")

    def action_next_page(self) -> None:
        """Fetch the next page, if the manager said there is one."""
        page = self.current_page()
        if page is None or not page:
            self.notify("This is the last page.")
            return
        self.cursors.append(self.cursor)
        self.cursor = page
        self.japp.poll_now()

    def action_prev_page(self) -> None:
        """Go back one page."""
        if not self.cursors:
            self.notify("This is the first page.")
            return
        self.cursor = self.cursors.pop()
        self.japp.poll_now()

    def current_page(self) -> str | None:
        """The next page's cursor from the last frame."""
        return None

    def page_label(self) -> str:
        """``page 2`` once the operator has paged."""
        return f" · page {len(self.cursors) + 1}" if self.cursors else ""

    def more_label(self) -> str:
        """`` (more: ])`` when the manager has a next page."""
        return " (more: ])" if self.current_page() else ""

    def filter_label(self) -> str:
        """`` · filter: ...`` while a filter applies."""
        return f" · filter: {self.filter}" if self.filter else ""


class TableView(ViewScreen, Generic[TableT]):
    """A view whose body is its caption over one table: a ``TABLE`` with the id ``TABLE_ID``.

    Declared once here, so each such view names its table rather than repeating the body.
    """

    TABLE: type[TableT]
    TABLE_ID: ClassVar[str]

    def compose_body(self) -> ComposeResult:
        """Caption and the view's table."""
        yield Static(id="caption", classes="caption")
        yield self.TABLE(id=self.TABLE_ID)

    @property
    def table(self) -> TableT:
        """The view's table."""
        return self.query_one(f"#{self.TABLE_ID}", self.TABLE)
