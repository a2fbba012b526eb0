"""Live workers: role, host, pid, uptime, in-flight, processed, failed, last seen."""

from __future__ import annotations

from rich.text import Text

from jobbers.models.dashboard import WorkerGroup, WorkerInfo, WorkerTotals

from ..snapshot import Snapshot
from .cells import clip, count, duration, middle, since
from .table import Col, LiveTable, Row


class WorkerTable(LiveTable):
    """One row per registered worker; an expired lease (a dead worker) shows in red."""

    def columns_for(self, width: int) -> list[Col]:
        """The id always (it names host and pid); queues, pid and host when they fit."""
        return [
            Col("id", "Worker", 30, least=18),
            Col("role", "Role", 14, least=7),
            Col("host", "Host", 20, least=10, drop=2),
            Col("pid", "PID", 7, right=True, drop=3),
            Col("uptime", "Up", 7, right=True, least=6),
            Col("busy", "Busy", 7, right=True, least=5),
            Col("processed", "Done", 8, right=True, least=7),
            Col("failed", "Failed", 7, right=True, least=6),
            Col("seen", "Seen", 6, right=True, least=5),
            Col("queues", "Queues", 16, least=8, drop=4, grow=True),
        ]

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
            cells = [
                Text(middle(wk.id, w("id")), style=p.muted, no_wrap=True),
                Text(clip(wk.role, w("role")), no_wrap=True),
            ]
            if w("host"):
                cells.append(Text(clip(wk.host, w("host")), no_wrap=True))
            if w("pid"):
                cells.append(Text(str(wk.pid), justify="right"))
            cells += [
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


def _groups(label: str, groups: list[WorkerGroup]) -> str:
    parts = []
    for g in groups:
        dead = f", {g.workers - g.alive} dead" if g.alive < g.workers else ""
        parts.append(f"{g.name or '-'} {g.workers}{dead} · {g.busy}/{g.concurrency} busy")
    return f"{label}  " + "   ".join(parts)


def fleet_lines(workers: list[WorkerInfo]) -> Text:
    """Two lines of totals: per host, then per role (workers, dead ones, busy slots)."""
    totals = WorkerTotals.of(workers)
    if not workers:
        return Text("")
    lines = [_groups("Hosts", totals.by_host), _groups("Roles", totals.by_role)]
    return Text("\n".join(lines), no_wrap=True, overflow="ellipsis")
