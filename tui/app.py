"""``jobbers top``: the Textual app, its views, and the one poller that feeds them.

Data flows one way. A timer calls ``poll_now``; an exclusive worker fetches one frame
(``/stats`` plus the page of the screen on top) through the shared ``JobbersClient`` and
posts ``SnapshotFetched`` (frames coalesce) or ``PollFailed``. The app hands the frame to
the screens, which hand it to their widgets. A failed poll is a banner, never an exception:
the last data stays on screen and the next tick tries again.

With ``events`` on, a second worker follows the manager's event stream (``GET /events``):
a status change asks for a frame at once (changes that come together share one), so the
timer, needed then only for what changes without one (progress, heartbeats, throughput),
ticks ``STREAM_SLOWDOWN`` times less often. When the stream drops, the timer is back to
its pace at once and the worker reconnects in the background.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterable
from functools import partial
from typing import ClassVar

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.worker import Worker

from jobbers.api.client import ClientError, JobbersClient, ManagerUnreachable, Unauthorized

from .commands import commands
from .console import Console
from .messages import PollFailed, SnapshotFetched
from .screens.base import LiveScreen, ViewScreen
from .screens.detail import TaskDetailScreen
from .screens.dlq import DeadLetterScreen
from .screens.help import HelpScreen, own_bindings
from .screens.overview import OverviewScreen
from .screens.queues import QueuesScreen
from .screens.running import RunningScreen
from .screens.scheduled import ScheduledScreen
from .screens.schedules import SchedulesScreen
from .screens.workers import WorkersScreen
from .snapshot import Clock, DepthHistory, PageQuery, Snapshot, TaskFilter, View, fetch, local_now
from .widgets.header import TABS, StatusLine

# While the event stream is live, the timer polls this many times less often.
STREAM_SLOWDOWN = 5
# A frame asked for by events waits this long, so that a burst of changes costs one frame.
EVENT_COALESCE_S = 0.05
# Pause before reconnecting a dropped event stream.
STREAM_RETRY_S = 2.0

VIEWS: dict[str, type[ViewScreen]] = {
    View.OVERVIEW: OverviewScreen,
    View.RUNNING: RunningScreen,
    View.DLQ: DeadLetterScreen,
    View.WORKERS: WorkersScreen,
    View.QUEUES: QueuesScreen,
    View.SCHEDULED: ScheduledScreen,
    View.SCHEDULES: SchedulesScreen,
}


def failure_reason(exc: Exception) -> str:
    """What the banner says about a failed poll."""
    if isinstance(exc, ManagerUnreachable):
        return exc.reason
    if isinstance(exc, Unauthorized):
        return f"{exc} (set JOBBERS_API_TOKEN to the manager's token)"
    if isinstance(exc, ClientError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"


class JobbersApp(Console):
    """Live queues, running tasks, dead letters, workers, queues and roles, scheduled tasks."""

    CSS_PATH = "jobbers.tcss"
    TITLE = "jobbers top"
    MODES: ClassVar[dict[str, type[Screen[None]]]] = dict(VIEWS)  # type: ignore[assignment]
    DEFAULT_MODE = View.OVERVIEW.value
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(key, f"show_view('{view.value}')", label, show=False)
            for key, view, label in TABS
        ),
        Binding("question_mark", "help", "Help"),
        Binding("f", "freeze", "Freeze/unfreeze the refresh", show=False),
        Binding("ctrl+r", "refresh_now", "Refresh now", show=False),
        Binding(
            "colon",
            "command_palette",
            "Commands",
            show=False,
            tooltip="Commands: views, submit a task, create a queue or a role",
        ),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        client: JobbersClient,
        refresh: float = 1.0,
        *,
        clock: Clock = local_now,
        autopoll: bool = True,
        owns_client: bool = False,
        events: bool = False,
    ) -> None:
        super().__init__()
        self.client = client
        self.refresh_s = refresh
        self.clock = clock
        self.autopoll = autopoll
        self.owns_client = owns_client
        self.history = DepthHistory()
        self.last: Snapshot | None = None
        self.failure: PollFailed | None = None
        self.frozen = False
        self._poller: Worker[None] | None = None
        self.events = events
        self.stream_live = False
        self._polled_at = 0.0
        self._event_refresh_due = False

    # ------------------------------------------------------------------ polling

    def on_mount(self) -> None:
        """Start the refresh timer and fetch the first frame at once."""
        if self.autopoll:
            self.set_interval(self.refresh_s, self._tick)
            self.poll_now()
            if self.events:
                self._follow_events()

    def _tick(self) -> None:
        # A poll still waiting on a slow manager is not piled on: the next tick will do.
        if self.frozen or (self._poller is not None and self._poller.is_running):
            return
        if self.stream_live and time.monotonic() - self._polled_at < (
            self.refresh_s * STREAM_SLOWDOWN - self.refresh_s / 2
        ):
            return  # the stream asks for frames when statuses change
        self.poll_now()

    def poll_now(self) -> None:
        """Fetch a frame for the screen on top now, dropping a poll for a page no longer shown."""
        if self.autopoll:
            self._polled_at = time.monotonic()
            self._poller = self._poll(self.current_query())

    @work(exclusive=True, group="events", exit_on_error=False)
    async def _follow_events(self) -> None:
        """Follow the event stream for good: each change asks for a frame; reconnect on a drop."""
        while True:
            try:
                async for event in self.client.event_stream():
                    self.stream_live = True
                    if event is not None:
                        self._event_seen()
            except Exception as exc:  # a dropped stream only means polling at full pace
                self.log.warning(f"event stream dropped: {exc}")
            self.stream_live = False
            await asyncio.sleep(STREAM_RETRY_S)

    def _event_seen(self) -> None:
        """A status changed: one frame soon, for this change and those right behind it."""
        if not self._event_refresh_due:
            self._event_refresh_due = True
            self.set_timer(EVENT_COALESCE_S, self._refresh_for_events)

    def _refresh_for_events(self) -> None:
        if self._poller is not None and self._poller.is_running:
            self.set_timer(EVENT_COALESCE_S, self._refresh_for_events)  # after the poll
            return
        self._event_refresh_due = False
        if not self.frozen:
            self.poll_now()

    @work(exclusive=True, group="poll", exit_on_error=False)
    async def _poll(self, query: PageQuery) -> None:
        try:
            snapshot = await fetch(self.client, query, self.history, self.clock)
        except Exception as exc:  # every failure is a banner, never a crash of the app
            unreachable = isinstance(exc, ManagerUnreachable)
            self.post_message(PollFailed(failure_reason(exc), self.clock(), unreachable))
        else:
            self.post_message(SnapshotFetched(snapshot))

    def current_query(self) -> PageQuery:
        """The page the topmost live screen needs."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, LiveScreen) and (query := screen.page_query()) is not None:
                return query
        return PageQuery(View.OVERVIEW)

    def live_screens(self) -> list[LiveScreen]:
        """The screens of the current stack that show frames."""
        return [s for s in self.screen_stack if isinstance(s, LiveScreen)]

    def on_snapshot_fetched(self, message: SnapshotFetched) -> None:
        """Show a frame; one fetched for a page no longer shown keeps only its stats."""
        snapshot = message.snapshot
        if snapshot.query != self.current_query():
            snapshot = dataclasses.replace(
                snapshot,
                active=None,
                stalled=None,
                dlq=None,
                scheduled=None,
                workers=None,
                roles=None,
                detail=None,
                schedules=None,
                workflows=None,
                workflow=None,
            )
        self.last = snapshot
        if self.failure is not None:
            self.failure = None
            self.notify(f"Reconnected to {self.client.url}", title="Manager back", markup=False)
        for screen in self.live_screens():
            screen.show(snapshot)
            screen.show_failure(None)

    def on_poll_failed(self, message: PollFailed) -> None:
        """Keep the data, raise the banner; the timer keeps trying."""
        self.failure = message
        for screen in self.live_screens():
            screen.show_failure(message)

    # ------------------------------------------------------------------ navigation

    async def show_view(self, view: str, filter: TaskFilter | None = None) -> None:
        """Switch to a view (each keeps its cursor, filter and page), optionally filtered."""
        await self.switch_mode(view)
        screen = self.screen
        if filter is not None and isinstance(screen, ViewScreen):
            screen.apply_filter(filter)
        else:
            self.poll_now()

    async def action_show_view(self, view: str) -> None:
        """``1``-``7`` and the tabs."""
        await self.show_view(view)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No view switch under a modal: close it first."""
        return not (action == "show_view" and isinstance(self.screen, ModalScreen))

    def action_help(self) -> None:
        """``?``: the keys of every view."""
        if isinstance(self.screen, HelpScreen):
            return
        shared = (ViewScreen, LiveScreen)
        sections: list[tuple[str, Iterable[BindingType]]] = [
            ("Everywhere", [*self.BINDINGS, *ViewScreen.BINDINGS]),
            *((label, own_bindings(VIEWS[view], shared)) for _, view, label in TABS),
            ("Task detail", own_bindings(TaskDetailScreen, shared)),
        ]
        self.push_screen(HelpScreen(sections))

    def action_freeze(self) -> None:
        """``f``: stop or restart the automatic refresh (to read a frame that keeps moving)."""
        self.frozen = not self.frozen
        for screen in self.live_screens():
            for line in screen.query(StatusLine):
                line.frozen = self.frozen
        if not self.frozen:
            self.poll_now()

    def action_refresh_now(self) -> None:
        """``ctrl+r``: a frame now."""
        self.poll_now()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette (``:``): the views, the refresh toggle, and the forms that
        submit a task, create a queue or a role."""
        yield from super().get_system_commands(screen)
        for key, view, label in TABS:
            yield SystemCommand(
                label,
                f"Show the {label} view ({key})",
                partial(self.run_action, f"show_view('{view.value}')"),
            )
        yield SystemCommand("Freeze or unfreeze refresh", "Hold the frame (f)", self.action_freeze)
        yield from commands(self)

    async def on_unmount(self) -> None:
        """Close the connection pool if ``run`` made the client."""
        if self.owns_client:
            await self.client.aclose()


def run(url: str, refresh: float) -> None:
    """Run ``jobbers top`` on the manager at ``url`` (token from JOBBERS_API_TOKEN)."""
    JobbersApp(JobbersClient(url), refresh, owns_client=True, events=True).run()
