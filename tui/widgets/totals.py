"""The one-line totals above the overview's queue table."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from ..snapshot import Snapshot
from .cells import Palette


class Totals(Widget):
    """Depth, running, scheduled, throughput, stalled, DLQ size and live workers, summed."""

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: Snapshot | None = None

    def update(self, snapshot: Snapshot) -> None:
        """Show a frame's totals."""
        self.snapshot = snapshot
        self.refresh()

    def render(self) -> RenderResult:
        """``Depth 1,234  Running 40  ...``, alarming numbers in the theme's error colour."""
        s = self.snapshot
        if s is None:
            return Text("waiting for the first frame…", style="dim")
        qs = s.stats.queues
        stalled = s.stats.statuses.get("stalled", 0)
        # Most telling first: on a narrow terminal the line is cut at the right.
        items: list[tuple[str, int, bool]] = [
            ("Workers", s.stats.workers, False),
            ("Depth", sum(q.depth for q in qs), False),
            ("Run", sum(q.running for q in qs), False),
            ("Done/m", sum(q.completed_1m for q in qs), False),
            ("Fail/m", sum(q.failed_1m for q in qs), True),
            ("DLQ", s.stats.dlq, True),
            ("Stalled", stalled, True),
            ("Sched", sum(q.scheduled for q in qs), False),
        ]
        p = Palette.of(self.app)
        text = Text(no_wrap=True, overflow="ellipsis")
        for label, value, alarm in items:
            text.append(f"{label} ", style=p.muted)
            # No live worker is an alarm too: the queues grow and nobody consumes them.
            bad = (alarm and value > 0) or (label == "Workers" and value == 0)
            text.append(f"{value:,}", style=p.error if bad else "bold")
            text.append("  ")
        return text
