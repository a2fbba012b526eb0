"""Read models for dashboards, listings and worker registrations."""

from __future__ import annotations

import datetime as dt
from typing import Generic, TypeVar

from pydantic import BaseModel, Field, computed_field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next page."""

    items: list[T]
    next_cursor: str | None = None


class QueueStats(BaseModel):
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


class Stats(BaseModel):
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


class WorkerInfo(BaseModel):
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
