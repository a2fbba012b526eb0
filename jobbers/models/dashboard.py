"""Read models for dashboards, listings and worker registrations."""

from __future__ import annotations

import datetime as dt
from typing import Generic, TypeVar

from pydantic import Field, computed_field

from jobbers.models.base import Model

T = TypeVar("T")


class Page(Model, Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next page."""

    items: list[T]
    next_cursor: str | None = None


class QueueStats(Model):
    """One queue's row of the dashboard."""

    name: str
    paused: bool = False
    depth: int = 0
    running: int = 0
    scheduled: int = 0
    dlq: int = 0
    completed_1m: int = 0
    failed_1m: int = 0
    completed_1h: int = 0
    failed_1h: int = 0
    series_completed: list[int] = Field(
        default_factory=list, description="completed per minute, oldest first"
    )
    series_failed: list[int] = Field(default_factory=list, description="failed per minute")
    counts: dict[str, int] = Field(
        default_factory=dict, description="tasks of this queue in each status"
    )
    max_concurrent: int | None = None
    rate_numerator: int | None = None
    rate_denominator: int | None = None
    rate_period: str | None = None


class Stats(Model):
    """Everything a dashboard frame needs, from one call."""

    now: dt.datetime
    workers: int
    dlq: int
    statuses: dict[str, int]
    queues: list[QueueStats]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def throughput_1m(self) -> int:
        """Tasks completed across queues in the last minute."""
        return sum(q.completed_1m for q in self.queues)


class WorkerInfo(Model):
    """A live worker as it registered itself."""

    id: str
    role: str = ""
    host: str = ""
    pid: int = 0
    queues: list[str] = Field(default_factory=list)
    concurrency: int = 0
    started_at: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    lease_until: dt.datetime | None = None
    alive: bool = True
    in_flight: list[str] = Field(default_factory=list)
    processed: int = 0
    failed: int = 0


class WorkerGroup(Model):
    """Summed figures of the workers sharing a host or a role."""

    name: str
    workers: int = 0
    alive: int = 0
    concurrency: int = 0  # task slots
    busy: int = 0  # tasks in flight
    processed: int = 0
    failed: int = 0


class WorkerTotals(Model):
    """The fleet at a glance: one group per host and one per role, sorted by name."""

    by_host: list[WorkerGroup] = Field(default_factory=list)
    by_role: list[WorkerGroup] = Field(default_factory=list)

    @classmethod
    def of(cls, workers: list[WorkerInfo]) -> WorkerTotals:
        """Totals of ``workers``; O(workers), so a poll can afford it."""

        def groups(key: str) -> list[WorkerGroup]:
            out: dict[str, WorkerGroup] = {}
            for w in workers:
                name = str(getattr(w, key))
                g = out.setdefault(name, WorkerGroup(name=name))
                g.workers += 1
                g.alive += int(w.alive)
                g.concurrency += w.concurrency
                g.busy += len(w.in_flight)
                g.processed += w.processed
                g.failed += w.failed
            return [out[name] for name in sorted(out)]

        return cls(by_host=groups("host"), by_role=groups("role"))
