"""Queue tables: the live overview row per queue, the queue settings, and the roles."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from jobbers.api.schemas import QueueStrategy, Role

from ..snapshot import Snapshot
from .cells import clip, count, queue_limits, rate, sparkline
from .table import PADDING, SCROLLBAR, Col, LiveTable, Row

MAX_SPARK = 30  # /stats returns 30 minutes of throughput


class QueueTable(LiveTable):
    """The overview: depth, running, scheduled, throughput, limits and two sparklines a queue."""

    def columns_for(self, width: int) -> list[Col]:
        """Numbers first; the sparklines share what is left, the throughput one goes first."""
        cols = [
            Col("name", "Queue", 20, least=10),
            Col("depth", "Depth", 7, right=True, least=6),
            Col("running", "Run", 7, right=True, least=5),
            Col("scheduled", "Sched", 7, right=True, least=5),
            Col("done", "Done/m", 7, right=True, least=6),
            Col("failed", "Fail/m", 7, right=True, least=6),
            Col("dlq", "DLQ", 7, right=True, least=5),
            Col("limits", "Limits", 14, least=8),
        ]
        fixed = sum(c.width + PADDING for c in cols) + SCROLLBAR
        spark = min(MAX_SPARK, max(7, (width - fixed) // 2 - PADDING))
        return [
            *cols,
            Col("spark_done", "Done ~", spark, least=7, drop=2),
            Col("spark_depth", "Depth ~", spark, least=7, drop=1),
        ]

    def frame_rows(self, snapshot: Snapshot) -> list[Row] | None:
        """One row per queue matching the filter's text or queue."""
        p = self.palette
        name_w, done_w = self.width_of("name"), self.width_of("spark_done")
        out: list[Row] = []
        for q in snapshot.stats.queues:
            if self.filter.queue and q.name != self.filter.queue:
                continue
            if not self.filter.matches(q.name):
                continue
            name = Text(no_wrap=True)
            if q.paused:
                name.append("‖ ", style=p.warning)
            name.append(clip(q.name, name_w - (2 if q.paused else 0)))
            cells = [
                name,
                count(q.depth, p),
                count(q.running, p),
                count(q.scheduled, p),
                count(q.completed_1m, p),
                count(q.failed_1m, p, alert=True),
                count(q.dlq, p, alert=True),
                Text(clip(queue_limits(q), self.width_of("limits")), no_wrap=True),
            ]
            if done_w:
                cells.append(sparkline(q.series_completed, done_w, p.success))
            depth = list(snapshot.depth.get(q.name, ()))
            cells.append(sparkline(depth, self.width_of("spark_depth"), p.accent))
            out.append((q.name, cells))
        return out


class QueueConfigTable(LiveTable):
    """Each queue's settings, paused flag and the roles that read it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.roles: list[Role] = []

    def columns_for(self, width: int) -> list[Col]:
        """Name, state, limits and roles; the roles column takes the rest."""
        return [
            Col("name", "Queue", 24, least=12),
            Col("state", "State", 7),
            Col("concurrency", "Max conc.", 9, right=True),
            Col("rate", "Rate limit", 12, least=10),
            Col("depth", "Depth", 7, right=True, least=6),
            Col("roles", "Roles", 20, least=8, grow=True),
        ]

    def frame_rows(self, snapshot: Snapshot) -> list[Row] | None:
        """One row per queue, from the stats frame (which carries every queue's config)."""
        p = self.palette
        if snapshot.roles is not None:
            self.roles = snapshot.roles  # a frame of another page keeps the last known roles
        roles = self.roles
        out: list[Row] = []
        for q in snapshot.stats.queues:
            readers = [r.name for r in roles if q.name in r.queues]
            if not self.filter.matches(q.name, *readers):
                continue
            state = Text("paused", style=p.warning) if q.paused else Text("active", p.muted)
            limit = rate(q.rate_numerator, q.rate_denominator, q.rate_period, None)
            cells = [
                Text(clip(q.name, self.width_of("name")), no_wrap=True),
                state,
                Text("—" if q.max_concurrent is None else str(q.max_concurrent), justify="right"),
                Text(clip(limit, self.width_of("rate")), no_wrap=True),
                count(q.depth, p),
                Text(clip(", ".join(readers) or "—", self.width_of("roles")), no_wrap=True),
            ]
            out.append((q.name, cells))
        return out


def strategy_text(role: Role) -> str:
    """How a role's workers share their starts: ``strict`` serves its queues in priority
    order, ``weighted`` by the weights shown, ``round robin`` each in turn."""
    if role.strategy is QueueStrategy.WEIGHTED:
        return "weighted " + ":".join(str(role.weight(q)) for q in role.queues)
    return role.strategy.value.replace("_", " ")


class RoleTable(LiveTable):
    """Roles: the ordered queues each reads, how it shares its starts between them, and
    how many live workers hold it."""

    def columns_for(self, width: int) -> list[Col]:
        """Role, workers, strategy, then the queue list in the rest of the width."""
        return [
            Col("name", "Role", 24, least=14),
            Col("workers", "Workers", 7),
            Col("strategy", "Strategy", 13, least=6),
            Col("queues", "Queues (in role order)", 22, least=10, grow=True),
        ]

    def frame_rows(self, snapshot: Snapshot) -> list[Row] | None:
        """One row per role; None until a frame carries the roles."""
        if snapshot.roles is None:
            return None
        p = self.palette
        workers = snapshot.workers or []
        out: list[Row] = []
        for role in snapshot.roles:
            if not self.filter.matches(role.name, *role.queues):
                continue
            live = sum(1 for w in workers if w.role == role.name and w.alive)
            queues = ", ".join(role.queues) or "(no queues)"
            cells = [
                Text(clip(role.name, self.width_of("name")), no_wrap=True),
                count(live, p),
                Text(clip(strategy_text(role), self.width_of("strategy")), no_wrap=True),
                Text(clip(queues, self.width_of("queues")), no_wrap=True, style=Style()),
            ]
            out.append((role.name, cells))
        return out
