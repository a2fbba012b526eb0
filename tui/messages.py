"""Messages from the poller to the app: a frame, or why there is none."""

from __future__ import annotations

import datetime as dt

from textual.message import Message

from .snapshot import Snapshot


class SnapshotFetched(Message):
    """A poll produced a frame; a newer frame replaces an unhandled one (frames coalesce)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        """True when ``message``, queued after this frame, supersedes it: a newer frame does.

        Textual drops this message unhandled then, so a busy screen never works through a
        backlog of frames; a failure queued after it does not hide the data it carries.
        """
        return isinstance(message, SnapshotFetched)


class PollFailed(Message):
    """A poll got no frame; the app shows a banner, keeps the last data and polls on."""

    def __init__(self, reason: str, at: dt.datetime, unreachable: bool) -> None:
        super().__init__()
        self.reason = reason
        self.at = at
        self.unreachable = unreachable

    def can_replace(self, message: Message) -> bool:
        """True when ``message``, queued after this failure, supersedes it: any newer outcome."""
        return isinstance(message, SnapshotFetched | PollFailed)
