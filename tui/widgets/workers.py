"""Live workers: role, host, pid, uptime, in-flight, processed, failed, last seen."""

from __future__ import annotations

from rich.text import Text

from ..snapshot import Snapshot  # noqa: TID252
from .cells import clip, count, duration, short_id, since
from .table import Col, LiveTable, Row

WIDE = 120


class WorkerTable(LiveTable):
    """One row per registered worker; an expired lease (a dead worker) shows in red."""

    def columns_for(self, width: int) -> list[Col]:
        """Host and pid name a worker at 80 columns; the full id and queues join wider."""
        wide = width >= WIDE
        cols = [Col("id", "Worker", 30)] if wide else []
        cols += [
            Col("role", "Role", 14 if wide else 8),
            Col("host", "Host", 20 if wide else 12),
            Col("pid", "PID", 7, right=True),
            Col("uptime", "Up", 7 if wide else 6, right=True),
            Col("busy", "Busy", 7 if wide else 6, right=True),
            Col("processed", "Done", 8 if wide else 7, right=True),
            Col("failed", "Failed", 7 if wide else 6, right=True),
            Col("seen", "Seen", 6 if wide else 5, right=True),
        ]
        if wide:
            used = sum(c.width + 2 for c in cols) + 4
            cols.append(Col("queues", "Queues", max(8, width - used)))
        return cols

    def frame_rows(self, snapshot: Snapshot) -> list[Row] | None:
        """Workers matching the free text; None until a frame carries them."""
        if snapshot.workers is None:
            return None
        p = self.palette
        w = self.width_of
        out: list[Row] = []
        for wk in sorted(snapshot.workers, key=lambda x: (x.role, x.host, x.pid)):
            if not self.filter.matches(wk.id, wk.role, wk.host, wk.pid, *wk.queues):
                continue
            seen = since(snapshot.now, wk.last_seen)
            busy = (
                f"{len(wk.in_flight)}/{wk.concurrency}"
                if wk.concurrency
                else str(len(wk.in_flight))
            )
            cells = []
            if w("id"):
                cells.append(Text(short_id(wk.id, w("id")), style=p.muted, no_wrap=True))
            cells += [
                Text(clip(wk.role, w("role")), no_wrap=True),
                Text(clip(wk.host, w("host")), no_wrap=True),
                Text(str(wk.pid), justify="right"),
                Text(duration(since(snapshot.now, wk.started_at)), justify="right"),
                Text(busy, justify="right"),
                count(wk.processed, p),
                count(wk.failed, p, alert=True),
                Text(
                    duration(seen) if wk.alive else "dead",
                    justify="right",
                    style=p.muted if wk.alive else p.error,
                ),
            ]
            if w("queues"):
                cells.append(Text(clip(", ".join(wk.queues), w("queues")), no_wrap=True))
            out.append((wk.id, cells))
        return out
