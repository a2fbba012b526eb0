"""What each kind of record shows: its columns (table and TSV) and its id (``-q``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .output import Column, Mode, Output, View, age, duration

if TYPE_CHECKING:
    from .output import Document

STATUS_STYLES = {
    "submitted": "blue",
    "scheduled": "yellow",
    "started": "cyan",
    "completed": "green",
    "failed": "bold red",
    "stalled": "magenta",
    "cancelled": "dim",
    "dropped": "dim",
    "waiting": "yellow",
    "running": "cyan",  # a workflow's overall status
}


def _status_style(row: Any) -> str:
    return STATUS_STYLES.get(str(row.status), "")


def _short(text: str | None, width: int = 60) -> str:
    if not text:
        return "-"
    line = text.splitlines()[0]
    return line if len(line) <= width else line[: width - 1] + "…"


def _when(moment: dt.datetime | None) -> str:
    """A time for people: local clock time and how long ago (or until)."""
    if moment is None:
        return "-"
    ago = age(moment)
    return (
        f"{moment.astimezone():%Y-%m-%d %H:%M:%S} ({ago if ago.startswith('in') else ago + ' ago'})"
    )


def _progress(task: Any) -> str:
    if task.progress is None:
        return task.progress_message or "-"
    pct = f"{task.progress * 100:.0f}%"
    return f"{pct} {task.progress_message}" if task.progress_message else pct


def _due(task: Any) -> str:
    due = task.due_in_s
    if due is None:
        return "-"
    return f"in {duration(due)}" if due >= 0 else f"{duration(-due)} late"


def _heartbeat_style(task: Any) -> str:
    """Red when the heartbeat is older than the task's limit, yellow past half of it."""
    limit, age = task.max_heartbeat_interval, task.heartbeat_age_s
    if limit is None or age is None:
        return ""
    return "bold red" if age > limit else "yellow" if age > limit / 2 else "green"


def attempt_number(task: Any) -> int:
    """The task's attempt, counted from 1 over its whole life: what every view calls attempt.

    ``retry_attempt`` is the retry policy's count, which an operator's reset sets back to 0;
    ``attempt_base`` is what the attempts before such a requeue add (0 from older managers).
    """
    return int(getattr(task, "attempt_base", 0) or 0) + int(task.retry_attempt) + 1


# Where the last error is the outcome (red), or why a retry is pending (yellow); on a task
# that completed or runs again it is history, shown dim.
_ERROR_STYLES = {"failed": "red", "stalled": "red", "dropped": "red", "scheduled": "yellow"}


def _error_style(task: Any) -> str:
    return _ERROR_STYLES.get(str(task.status), "dim")


ID = Column("id", lambda t: t.id)
NAME = Column("name", lambda t: t.name, "bold")
VERSION = Column("version", lambda t: t.version)
QUEUE = Column("queue", lambda t: t.queue)
STATUS = Column("status", lambda t: t.status, _status_style)
ATTEMPT = Column("attempt", attempt_number)
SUBMITTED = Column("submitted", lambda t: t.submitted_at, label="age")
LAST_ERROR = Column(
    "last_error", lambda t: t.last_error, _error_style, lambda t: _short(t.last_error), flex=True
)
FAILED = Column("failed", lambda t: t.completed_at)

TASKS = View(
    [ID, NAME, VERSION, QUEUE, STATUS, ATTEMPT, SUBMITTED, LAST_ERROR], lambda t: str(t.id)
)

ACTIVE = View(
    [
        ID,
        NAME,
        QUEUE,
        Column("worker", lambda t: t.worker_id),
        Column("elapsed_s", lambda t: t.elapsed_s, "", lambda t: duration(t.elapsed_s), "elapsed"),
        Column(
            "heartbeat_age_s",
            lambda t: t.heartbeat_age_s,
            _heartbeat_style,
            lambda t: duration(t.heartbeat_age_s),
            "beat",
        ),
        Column("progress", lambda t: t.progress, "", _progress, flex=True),
    ],
    lambda t: str(t.id),
)

SCHEDULED = View(
    [
        ID,
        NAME,
        QUEUE,
        ATTEMPT,
        Column("due_in_s", lambda t: t.due_in_s, "yellow", _due, "due"),
        LAST_ERROR,
    ],
    lambda t: str(t.id),
)

DLQ = View([ID, NAME, VERSION, QUEUE, STATUS, ATTEMPT, FAILED, LAST_ERROR], lambda t: str(t.id))

RESULTS = Column("results", lambda t: t.results, "green")
TASK_ERROR = Column("last_error", lambda t: t.last_error, _error_style)

# The outcome (status, then results or the error) first; how it got there after.
TASK_FIELDS = [
    ID,
    NAME,
    VERSION,
    QUEUE,
    STATUS,
    RESULTS,
    TASK_ERROR,
    ATTEMPT,
    Column("recoveries", lambda t: t.recoveries),
    Column("priority", lambda t: t.priority),
    Column("submitted", lambda t: t.submitted_at, "", lambda t: _when(t.submitted_at)),
    Column("started", lambda t: t.started_at, "", lambda t: _when(t.started_at)),
    Column("heartbeat", lambda t: t.heartbeat_at, "", lambda t: _when(t.heartbeat_at)),
    Column("completed", lambda t: t.completed_at, "", lambda t: _when(t.completed_at)),
    Column("scheduled_for", lambda t: t.scheduled_for, "", lambda t: _when(t.scheduled_for)),
    Column("worker", lambda t: t.worker_id),
    Column("progress", lambda t: t.progress, "", _progress),
    Column("cancel_requested", lambda t: t.cancel_requested),
    Column("in_dlq", lambda t: t.in_dlq),
    Column("parameters", lambda t: t.parameters),
]

HISTORY = View(
    [
        Column("attempt", lambda e: e.attempt + 1),
        Column("at", lambda e: e.at),
        Column("kind", lambda e: e.kind, "yellow"),
        Column("worker", lambda e: e.worker_id),
        Column("exc_type", lambda e: e.exc_type, "red"),
        Column("message", lambda e: e.message, flex=True, wrap=True),
    ],
    lambda e: str(e.attempt + 1),
)


def print_task(out: Output, document: Document, task: Any) -> None:
    """Print a task; a table adds its errors.

    A table shows a completed task's outcome alone: the errors of its earlier attempts are
    history, listed below it, not a last error in red.
    """
    table = out.mode is Mode.TABLE
    done = str(task.status) == "completed"
    fields = [f for f in TASK_FIELDS if not (table and done and f is TASK_ERROR)]
    out.record(document, task, fields, str(task.id))
    if task.errors and table:
        out.note("")
        if done:
            out.note("earlier attempts:")
        out.listing(document, task.errors, HISTORY)


def print_named(out: Output, record: Any, fields: Sequence[Column]) -> None:
    """Print a queue, role or schedule: its own JSON, its name with ``-q``, else its fields.

    What ``get`` and the commands that change one answer with, in all three groups.
    """
    out.record(record, record, fields, record.name)


def _outcome_style(row: Any) -> str:
    return "green" if row[1] in ("cancelled", "cancel_requested", "resubmitted") else "red"


OUTCOMES = View(
    [Column("id", lambda r: r[0]), Column("outcome", lambda r: r[1], _outcome_style)],
    lambda r: str(r[0]),
)


def _paused(q: Any) -> str:
    return "paused" if q.paused else "running"


def _paused_style(q: Any) -> str:
    return "bold yellow" if q.paused else "green"


def _red_if(q: Any) -> str:
    return "red" if q.failed_1m or q.failed_1h else ""


QUEUE_FIELDS = [
    Column("name", lambda q: q.name, "bold"),
    Column("paused", lambda q: q.paused, _paused_style, _paused, "state"),
    Column("max_concurrent", lambda q: q.max_concurrent, label="limit"),
    Column("rate_numerator", lambda q: q.rate_numerator, label="rate"),
    Column("rate_denominator", lambda q: q.rate_denominator, label="per"),
    Column("rate_period", lambda q: q.rate_period, label="period"),
]
QUEUES = View(QUEUE_FIELDS, lambda q: q.name)

ROLE_FIELDS = [
    Column("name", lambda r: r.name, "bold"),
    Column("queues", lambda r: r.queues, flex=True, wrap=True),
    Column("strategy", lambda r: _strategy(r)),
]


def _strategy(role: Any) -> str:
    """``round_robin``, ``strict``, or ``weighted`` with each queue's weight."""
    if role.strategy != "weighted":
        return str(role.strategy)
    return "weighted " + ",".join(f"{q}={role.weights.get(q, 1)}" for q in role.queues)


ROLES = View(ROLE_FIELDS, lambda r: r.name)


def _busy(w: Any) -> str:
    return f"{len(w.in_flight)}/{w.concurrency}"


def _alive(w: Any) -> str:
    return "alive" if w.alive else "lost"


def _alive_style(w: Any) -> str:
    return "green" if w.alive else "bold red"


WORKER_GROUPS = View(
    [
        Column("name", lambda g: g.name, "bold"),
        Column("workers", lambda g: g.workers),
        Column("alive", lambda g: g.alive, lambda g: "red" if g.alive < g.workers else ""),
        Column("busy", lambda g: g.busy, "cyan"),
        Column("concurrency", lambda g: g.concurrency, label="slots"),
        Column("processed", lambda g: g.processed, "green", label="done"),
        Column("failed", lambda g: g.failed, lambda g: "red" if g.failed else ""),
    ],
    lambda g: g.name,
)

WORKERS = View(
    [
        Column("id", lambda w: w.id),
        Column("role", lambda w: w.role, "bold"),
        Column("host", lambda w: w.host, table=False),
        Column("pid", lambda w: w.pid, table=False),
        Column("queues", lambda w: w.queues, flex=True, wrap=True),
        Column("concurrency", lambda w: w.concurrency, table=False),
        Column("in_flight", lambda w: len(w.in_flight), table=False),
        Column("busy", lambda w: len(w.in_flight), "cyan", _busy, tsv=False),
        Column("processed", lambda w: w.processed, "green", label="done"),
        Column("failed", lambda w: w.failed, lambda w: "red" if w.failed else ""),
        Column("last_seen", lambda w: w.last_seen, label="seen"),
        Column("alive", lambda w: w.alive, _alive_style, _alive, "state"),
    ],
    lambda w: w.id,
)


def _rate(q: Any) -> str:
    if q.rate_numerator is None:
        return "-"
    per = (
        f"{q.rate_denominator} {q.rate_period}s" if (q.rate_denominator or 1) > 1 else q.rate_period
    )
    return f"{q.rate_numerator}/{per}"


STATS = View(
    [
        Column("queue", lambda q: q.name, "bold"),
        Column("paused", lambda q: q.paused, _paused_style, _paused, "state"),
        Column("depth", lambda q: q.depth),
        Column("running", lambda q: q.running, "cyan", label="run"),
        Column("scheduled", lambda q: q.scheduled, "yellow", label="sched"),
        Column("dlq", lambda q: q.dlq, lambda q: "red" if q.dlq else ""),
        Column("completed_1m", lambda q: q.completed_1m, table=False),
        Column("failed_1m", lambda q: q.failed_1m, table=False),
        Column("completed_1h", lambda q: q.completed_1h, table=False),
        Column("failed_1h", lambda q: q.failed_1h, table=False),
        Column(
            "1m",
            lambda q: q.failed_1m,
            _red_if,
            lambda q: f"{q.completed_1m}/{q.failed_1m}",
            "ok/fail 1m",
            tsv=False,
        ),
        Column(
            "1h",
            lambda q: q.failed_1h,
            _red_if,
            lambda q: f"{q.completed_1h}/{q.failed_1h}",
            "ok/fail 1h",
            tsv=False,
        ),
        Column("max_concurrent", lambda q: q.max_concurrent, label="limit"),
        Column("rate", lambda q: _rate(q) if q.rate_numerator else None, "", _rate),
    ],
    lambda q: q.name,
)


# Schedules (issue 15 §2)
def _rule(sc: Any) -> str:
    if sc.cron is not None:
        return f"cron {sc.cron}" + ("" if sc.timezone == "UTC" else f" ({sc.timezone})")
    return f"every {duration(sc.every)}"


def _enabled_style(sc: Any) -> str:
    return "" if sc.enabled else "yellow"


# What a schedule's record and the listing both lead with.
_SCHEDULE = [
    Column("name", lambda sc: sc.name, "bold"),
    Column("rule", _rule),
    Column("task", lambda sc: f"{sc.task.name}@{sc.task.version}"),
    Column("queue", lambda sc: sc.task.queue),
    Column("enabled", lambda sc: sc.enabled, _enabled_style),
    Column("overlap", lambda sc: sc.overlap),
]
SCHEDULE_FIELDS = [
    *_SCHEDULE,
    Column("missed", lambda sc: sc.missed),
    Column("jitter", lambda sc: sc.jitter),
    Column("next_fire_at", lambda sc: sc.next_fire_at, "", lambda sc: _when(sc.next_fire_at)),
    Column("last_fire_at", lambda sc: sc.last_fire_at, "", lambda sc: _when(sc.last_fire_at)),
    Column("last_outcome", lambda sc: sc.last_outcome),
    Column("last_task_id", lambda sc: sc.last_task_id),
    Column("parameters", lambda sc: sc.task.parameters),
]
SCHEDULES = View(
    [
        *_SCHEDULE,
        Column(
            "next_fire_at", lambda sc: sc.next_fire_at, "", lambda sc: age(sc.next_fire_at), "next"
        ),
        Column(
            "last_fire_at", lambda sc: sc.last_fire_at, "", lambda sc: age(sc.last_fire_at), "last"
        ),
        Column("last_task_id", lambda sc: sc.last_task_id, flex=True),
    ],
    lambda sc: sc.name,
)
