"""A fixed frame for the snapshot tests: the API's own models, with frozen ids and times.

Ages on screen are computed against the frame's manager clock (``NOW``) and the status
line uses the app's injected clock, so every render of this frame is identical.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from jobbers.tui.snapshot import PageQuery, Snapshot, TaskDetail, View
from ulid import ULID

from jobbers.api.schemas import (
    ActiveTask,
    ActiveTaskPage,
    QueueStats,
    QueueStrategy,
    Role,
    ScheduledTask,
    ScheduledTaskPage,
    Stats,
    Task,
    TaskError,
    TaskPage,
    WorkerInfo,
)

NOW = dt.datetime(2026, 3, 12, 10, 0, 0, tzinfo=dt.UTC)
HOST = "ops-host-1"
TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/tasks.py", line 42, in generate_report
    rows = await fetch_rows(report_id)
  File "/srv/app/db.py", line 17, in fetch_rows
    raise ConnectionError("database refused the connection")
ConnectionError: database refused the connection"""


def clock() -> dt.datetime:
    """The app's frozen clock."""
    return NOW


def ago(seconds: float) -> dt.datetime:
    """A moment ``seconds`` before NOW."""
    return NOW - dt.timedelta(seconds=seconds)


def tid(n: int) -> ULID:
    """A fixed, valid ULID per ``n``."""
    return ULID.from_str(f"01JBKR2E5F3G4H5J6K7N8M{n:04d}")


def wave(base: int, spread: int, phase: float = 0.0, n: int = 30) -> list[int]:
    """A deterministic per-minute series that looks like traffic."""
    return [max(0, round(base + spread * math.sin(i / 3 + phase))) for i in range(n)]


def stats() -> Stats:
    """Three queues: a busy one, a paused one with limits, a quiet one."""
    queues = [
        QueueStats(
            name="default",
            depth=1240,
            running=8,
            scheduled=3,
            dlq=2,
            completed_1m=512,
            failed_1m=3,
            series_completed=wave(450, 120),
            series_failed=wave(3, 3, 1.0),
        ),
        QueueStats(
            name="emails",
            depth=0,
            running=2,
            completed_1m=45,
            series_completed=wave(40, 15, 2.0),
            series_failed=[0] * 30,
            max_concurrent=10,
        ),
        QueueStats(
            name="reports",
            paused=True,
            depth=87,
            dlq=3,
            failed_1m=1,
            series_completed=[*wave(20, 10, n=20), *([0] * 10)],
            series_failed=[0] * 30,
            max_concurrent=5,
            rate_numerator=100,
            rate_denominator=1,
            rate_period="hour",
        ),
    ]
    statuses = {"submitted": 1327, "scheduled": 3, "started": 10, "stalled": 1, "completed": 9000}
    return Stats(now=NOW, workers=2, dlq=5, statuses=statuses, queues=queues)


def active() -> ActiveTaskPage:
    """Running tasks: healthy, near their heartbeat limit, past it, without progress."""
    rows: list[tuple[str, str, float, float | None, float | None, str | None]] = [
        ("generate_report", "reports", 754.2, 0.62, 2.1, "section 31/50"),
        ("send_email", "emails", 3.4, None, 3.4, None),
        ("bulk_import", "default", 95.0, 0.35, 48.0, "batch 7/20"),
        ("bulk_import", "default", 312.7, 0.9, 130.0, "batch 18/20"),
        ("resize_image", "default", 12.0, 1.0, 0.4, "done"),
    ]
    items = []
    for n, (name, queue, elapsed, progress, beat, message) in enumerate(rows, start=1):
        limit = 60.0 if name == "bulk_import" else (30.0 if name == "generate_report" else None)
        items.append(
            ActiveTask(
                id=tid(n),
                name=name,
                version=2 if name == "bulk_import" else 1,
                queue=queue,
                status="started",
                submitted_at=ago(elapsed + 5),
                started_at=ago(elapsed),
                heartbeat_at=ago(beat or elapsed),
                worker_id=f"{HOST}-{4100 + n % 2}-7Q2K9{n}",
                progress=progress,
                progress_message=message,
                max_heartbeat_interval=limit,
                elapsed_s=elapsed,
                heartbeat_age_s=beat,
            )
        )
    return ActiveTaskPage(items=items)


def stalled() -> TaskPage:
    """One task the cleaner gave up on."""
    task = Task(
        id=tid(9),
        name="bulk_import",
        version=2,
        queue="default",
        status="stalled",
        started_at=ago(900),
        heartbeat_at=ago(610),
        completed_at=ago(550),
        worker_id=f"{HOST}-4077-ZZ01AB",
        last_error="no heartbeat for 60s (max_heartbeat_interval)",
    )
    return TaskPage(items=[task])


def errors(count: int, message: str) -> list[TaskError]:
    """An error history: ``count`` failed attempts, each with a traceback."""
    return [
        TaskError(
            attempt=i,
            at=ago(600 - 120 * i),
            kind="error",
            exc_type="ConnectionError",
            message=f"ConnectionError: {message}",
            traceback=TRACEBACK,
            worker_id=f"{HOST}-4101-7Q2K91",
        )
        for i in range(count)
    ]


def dead(n: int, name: str, queue: str, failed_s: float, message: str) -> Task:
    """A dead-lettered task with its history."""
    history = errors(3, message)
    return Task(
        id=tid(20 + n),
        name=name,
        version=1,
        queue=queue,
        parameters={"report_id": 40 + n, "format": "pdf"},
        status="failed",
        retry_attempt=2,
        submitted_at=ago(failed_s + 400),
        started_at=ago(failed_s + 2),
        completed_at=ago(failed_s),
        last_error=f"ConnectionError: {message}",
        errors=history,
        worker_id=f"{HOST}-4101-7Q2K91",
        in_dlq=True,
    )


def dlq() -> TaskPage:
    """Five dead letters, newest first."""
    return TaskPage(
        items=[
            dead(1, "generate_report", "reports", 42, "database refused the connection"),
            dead(2, "generate_report", "reports", 95, "database refused the connection"),
            dead(3, "send_email", "emails", 3600, "SMTP 451 [4.7.1] try again later"),
            dead(4, "generate_report", "reports", 7300, "timed out after 120s"),
            dead(5, "bulk_import", "default", 90000, "row 1812: invalid date '2026-13-01'"),
        ]
    )


def scheduled() -> ScheduledTaskPage:
    """Tasks waiting for a retry, soonest first: one overdue (the scheduler is behind)."""
    rows = [
        ("send_email", "emails", -2.5, 1, "SMTPServerDisconnected: Connection unexpectedly closed"),
        ("generate_report", "reports", 14.0, 1, "ConnectionError: database refused the connection"),
        ("send_email", "emails", 3600.0, 4, "SMTP 451 [4.7.1] try again later"),
    ]
    items = [
        ScheduledTask(
            id=tid(40 + n),
            name=name,
            version=1,
            queue=queue,
            status="scheduled",
            retry_attempt=attempt,
            submitted_at=ago(900),
            completed_at=ago(30),
            scheduled_for=NOW + dt.timedelta(seconds=due),
            last_error=error,
            due_in_s=due,
        )
        for n, (name, queue, due, attempt, error) in enumerate(rows, start=1)
    ]
    return ScheduledTaskPage(items=items)


def workers() -> list[WorkerInfo]:
    """Two live workers and one whose lease expired."""

    def worker(pid: int, role: str, queues: list[str], **extra: Any) -> WorkerInfo:
        fields: dict[str, Any] = {
            "id": f"{HOST}-{pid}-7Q2K9{pid % 10}",
            "role": role,
            "host": HOST,
            "pid": pid,
            "queues": queues,
            "concurrency": 10,
            "started_at": ago(86_400 + pid),
            "last_seen": ago(1.2),
            "lease_until": NOW + dt.timedelta(seconds=14),
        }
        return WorkerInfo(**{**fields, **extra})

    return [
        worker(4100, "default", ["default"], in_flight=["a"] * 6, processed=120_433, failed=17),
        worker(4101, "heavy", ["reports", "default"], in_flight=["b"] * 4, processed=8_812),
        worker(
            4077,
            "heavy",
            ["reports", "default"],
            alive=False,
            processed=5_120,
            failed=2,
            last_seen=ago(95),
            lease_until=ago(80),
        ),
    ]


def roles() -> list[Role]:
    """The roles the workers hold."""
    return [
        Role(name="default", queues=["default"]),
        Role(name="heavy", queues=["reports", "default"], strategy=QueueStrategy.STRICT),
        Role(name="mail", queues=["emails"]),
    ]


def depth() -> dict[str, tuple[int, ...]]:
    """The client-side depth history the poller would have built."""
    return {
        "default": tuple(800 + 15 * i for i in range(30)),
        "emails": (0,) * 30,
        "reports": tuple(min(87, 3 * i) for i in range(30)),
    }


def frame(query: PageQuery | None = None, detail: Task | None = None) -> Snapshot:
    """Every page filled, so each view renders from the same frame."""
    return Snapshot(
        query=query or PageQuery(View.OVERVIEW),
        stats=stats(),
        fetched_at=NOW,
        depth=depth(),
        active=active(),
        stalled=stalled(),
        dlq=dlq(),
        scheduled=scheduled(),
        workers=workers(),
        roles=roles(),
        detail=TaskDetail(str(detail.id), detail) if detail else None,
    )
