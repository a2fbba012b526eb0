"""The lines above every view: the view tabs, the manager and freshness, the outage banner."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.app import RenderResult
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from ..messages import PollFailed
from ..snapshot import Snapshot, View
from .cells import duration

TABS: list[tuple[str, View, str]] = [
    ("1", View.OVERVIEW, "Overview"),
    ("2", View.RUNNING, "Running"),
    ("3", View.DLQ, "Dead letters"),
    ("4", View.WORKERS, "Workers"),
    ("5", View.QUEUES, "Queues & roles"),
    ("6", View.SCHEDULED, "Scheduled"),
    ("7", View.SCHEDULES, "Schedules"),
]
# The labels on a terminal too narrow for the whole ones.
SHORT = {View.DLQ: "DLQ", View.QUEUES: "Queues", View.SCHEDULED: "Sched", View.SCHEDULES: "Cron"}


def clock_time(moment: dt.datetime) -> str:
    """``HH:MM:SS`` in the zone the app's clock returned (the local zone by default)."""
    return moment.strftime("%H:%M:%S")


class ViewTabs(Widget):
    """The views and their number keys; the current one highlighted, each one clickable."""

    def __init__(self, current: View) -> None:
        super().__init__()
        self.current = current

    def render(self) -> RenderResult:
        """``1 Overview  2 Running ...`` with the current view in reverse video."""
        whole = sum(len(label) + len(key) + 3 for key, _, label in TABS) + len("  ? help")
        short = whole > self.size.width
        parts: list[Content] = []
        for key, view, label in TABS:
            label = SHORT.get(view, label) if short else label
            # Constants only: no operator data ever reaches this markup.
            text = Content.from_markup(
                f"[@click=app.show_view('{view.value}')] [b]{key}[/b] {label} [/]"
            )
            if view == self.current:
                text = text.stylize("reverse")
            parts.append(text)
        parts.append(Content.from_markup("[@click=app.help]  [b]?[/b] help[/]"))
        return Content("").join(parts)


class StatusLine(Widget):
    """Which manager, when the data shown was fetched, and whether refreshing is paused."""

    frozen: reactive[bool] = reactive(False)

    def __init__(self, url: str, refresh: float) -> None:
        super().__init__()
        self.url = url
        self.refresh_s = refresh
        self.fetched_at: dt.datetime | None = None
        self.failing = False

    def update(self, snapshot: Snapshot) -> None:
        """A frame arrived: the data is fresh."""
        self.fetched_at = snapshot.fetched_at
        self.failing = False
        self.refresh()

    def set_failure(self, failure: PollFailed | None) -> None:
        """Polls fail (the banner says why) or work again."""
        if self.failing != (failure is not None):
            self.failing = failure is not None
            self.refresh()

    def render(self) -> RenderResult:
        """``● http://manager · refreshed 12:03:04 · every 1s``."""
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("✖ " if self.failing else "● ", style="bold red" if self.failing else "green")
        line.append(self.url, style="bold")
        if self.fetched_at is None:
            line.append(" · connecting…")
        else:
            line.append(f" · refreshed {clock_time(self.fetched_at)}")
        if self.frozen:
            line.append(" · FROZEN (f resumes)", style="bold reverse")
        else:
            line.append(f" · every {duration(self.refresh_s)}", style="dim")
        return line


class Banner(Widget):
    """Shown while polls fail: what is wrong, how old the data on screen is, that it retries."""

    def __init__(self, url: str, refresh: float) -> None:
        super().__init__()
        self.url = url
        self.refresh_s = refresh
        self.failure: PollFailed | None = None
        self.fetched_at: dt.datetime | None = None

    def update(self, snapshot: Snapshot) -> None:
        """A frame arrived: hide the banner."""
        self.fetched_at = snapshot.fetched_at
        self.set_failure(None)

    def set_failure(self, failure: PollFailed | None) -> None:
        """Show (or hide, with None) the banner for a failed poll."""
        if failure is None and self.failure is None:
            return  # the usual case, every frame: nothing to redo
        self.failure = failure
        self.display = failure is not None
        self.refresh(layout=True)

    def render(self) -> RenderResult:
        """One or two lines an operator can read at a glance."""
        f = self.failure
        if f is None:
            return ""
        head = f"Manager unreachable at {self.url}" if f.unreachable else "Manager error"
        text = Text(f"✖ {head}: {f.reason}. ", style="bold")
        if self.fetched_at is None:
            text.append("No data yet")
        else:
            age = (f.at - self.fetched_at).total_seconds()
            text.append(f"Showing data from {clock_time(self.fetched_at)} ({duration(age)} old)")
        text.append(f"; retrying every {duration(self.refresh_s)}.")
        return text
