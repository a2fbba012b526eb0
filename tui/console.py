"""What the screens and the palette commands use of the app: its client, its last frame,
and two requests (a frame now, another view).

The screens and the command palette are parts of ``JobbersApp``, which imports them; they
type the app they live in as this base class instead, so that no screen imports the app
module back.
"""

from __future__ import annotations

from textual.app import App

from jobbers.api.client import JobbersClient

from .messages import PollFailed
from .snapshot import Snapshot, TaskFilter


class Console(App[None]):
    """The state a screen reads and the two requests it makes of ``JobbersApp``."""

    client: JobbersClient
    refresh_s: float  # seconds between frames
    last: Snapshot | None  # the last frame fetched
    failure: PollFailed | None  # why the last poll failed, until one succeeds
    frozen: bool  # the refresh is paused (f)

    def poll_now(self) -> None:
        """Fetch a frame for the screen on top now."""
        raise NotImplementedError

    async def show_view(self, view: str, filter: TaskFilter | None = None) -> None:
        """Switch to a view, optionally filtered."""
        raise NotImplementedError
