"""System commands: workers, stats, health, metrics."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from .. import views
from ..output import Column, Mode
from ..session import Session, api_command


class GroupBy(StrEnum):
    """Values of ``jobbers workers --by``: the ``WorkerTotals`` groups of ``GET /workers``."""

    HOST = "host"
    ROLE = "role"


HEALTH_FIELDS = [
    Column("status", lambda h: h.status, lambda h: "green" if h.status == "ok" else "bold red"),
    Column("redis", lambda h: h.redis),
    Column("version", lambda h: h.version),
]


By = Annotated[
    GroupBy | None,
    typer.Option("--by", help="Totals per host or per role instead of one row per worker"),
]


@api_command
def workers(s: Session, by: By = None) -> None:
    """List live workers: role, queues, in-flight tasks, counters, last heartbeat."""
    answer = s.call(s.api.workers())
    if by is None:
        s.out.listing(answer, answer.workers, views.WORKERS)
    else:
        totals = answer.totals
        s.out.listing(
            answer, totals.by_host if by is GroupBy.HOST else totals.by_role, views.WORKER_GROUPS
        )


@api_command
def stats(s: Session) -> None:
    """Show per-queue depth, running, scheduled, DLQ and recent throughput."""
    answer = s.call(s.api.stats())
    if s.out.mode is Mode.TABLE:
        counts = "  ".join(f"{k} {v}" for k, v in sorted(answer.statuses.items()) if v)
        s.out.text(f"workers {answer.workers}  dlq {answer.dlq}  {counts}".rstrip())
    s.out.listing(answer, answer.queues, views.STATS)


@api_command
def health(s: Session) -> None:
    """Check that the manager and its Redis answer (exit 1 if Redis is down)."""
    answer = s.call(s.api.health())
    s.out.record(answer, answer, HEALTH_FIELDS, answer.status)


@api_command
def metrics(s: Session) -> None:
    """Print the manager's Prometheus metrics (text exposition format)."""
    s.out.text(s.call(s.api.metrics()))


def version() -> None:
    """Show the CLI's version (same as jobbers --version)."""
    import sys

    from jobbers import __version__

    sys.stdout.write(f"jobbers {__version__}\n")
