"""Schedules (issue 15 §2): each rule with its next and last fire and overlap policy."""

from __future__ import annotations

from rich.text import Text

from ..snapshot import Snapshot
from .cells import clip, duration, short_id, since
from .table import Col, LiveTable, Row


def rule_text(schedule: object) -> str:
    """``0 3 * * * Europe/Paris`` or ``every 15m``."""
    cron = getattr(schedule, "cron", None)
    if cron is not None:
        zone = getattr(schedule, "timezone", "UTC")
        return cron if zone == "UTC" else f"{cron} {zone}"
    return f"every {duration(getattr(schedule, 'every', 0))}"


class SchedulesTable(LiveTable):
    """Every schedule, by name; a paused one shows in the warning colour."""

    def columns_for(self, width: int) -> list[Col]:
        """Name, rule, state and the next fire first; the task and the last fire after."""
        return [
            Col("name", "Schedule", 18, least=8),
            Col("rule", "Rule", 22, least=10),
            Col("state", "State", 7),
            Col("next", "Next in", 8, right=True),
            Col("last", "Last", 8, right=True),
            Col("outcome", "Outcome", 15, least=7, drop=2),
            Col("overlap", "Overlap", 15, least=5, drop=3),
            Col("task", "Task", 16, least=8, drop=4),
            Col("last_task", "Last task", 26, least=7, snap=True, drop=1, grow=True),
        ]

    def frame_rows(self, snapshot: Snapshot) -> list[Row] | None:
        """The schedules as the manager sorted them (by name), narrowed by free text."""
        if snapshot.schedules is None:
            return None
        p = self.palette
        w = self.width_of
        now = snapshot.now
        out: list[Row] = []
        for sc in snapshot.schedules:
            task = f"{sc.task.name}@{sc.task.version}"
            rule = rule_text(sc)
            if not self.filter.matches(sc.name, rule, task, sc.task.queue):
                continue
            if self.filter.queue and sc.task.queue != self.filter.queue:
                continue
            if self.filter.name and sc.task.name != self.filter.name:
                continue
            until = -(since(now, sc.next_fire_at) or 0) if sc.next_fire_at else None
            ago = since(now, sc.last_fire_at)
            cells = [
                Text(clip(sc.name, w("name")), no_wrap=True),
                Text(clip(rule, w("rule")), no_wrap=True),
                Text("on", style=p.success) if sc.enabled else Text("paused", style=p.warning),
                Text(
                    "—" if until is None else duration(max(0.0, until)),
                    style=p.muted if until is None else "",
                    justify="right",
                ),
                Text("—" if ago is None else duration(ago), style=p.muted, justify="right"),
            ]
            if w("outcome"):
                outcome = str(sc.last_outcome or "—")
                style = p.warning if outcome in ("skipped_overlap", "missed", "no_queue") else ""
                cells.append(Text(clip(outcome, w("outcome")), style=style, no_wrap=True))
            if w("overlap"):
                cells.append(Text(clip(str(sc.overlap), w("overlap")), no_wrap=True))
            if w("task"):
                cells.append(Text(clip(task, w("task")), no_wrap=True))
            if w("last_task"):
                last = short_id(sc.last_task_id, w("last_task")) if sc.last_task_id else "—"
                cells.append(Text(last, style=p.muted, no_wrap=True))
            out.append((sc.name, cells))
        return out
