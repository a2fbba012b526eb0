"""A task as stored in Redis and returned by the API."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from pydantic import ConfigDict, Field
from ulid import ULID

from jobbers.models.base import Model

# Defined without pydantic in jobbers.models.enums (the CLI imports them alone); re-exported.
from jobbers.models.enums import RETRYABLE_STATUSES as RETRYABLE_STATUSES
from jobbers.models.enums import TERMINAL_STATUSES as TERMINAL_STATUSES
from jobbers.models.enums import ParentFailure as ParentFailure
from jobbers.models.enums import TaskStatus as TaskStatus
from jobbers.models.names import Name

MAX_PARAMS_BYTES = 512 * 1024
# Tasks per submit call: one script run that blocks Redis for a few milliseconds at most.
MAX_SUBMIT_BATCH = 1000
# Delayed submit (issue 15 §1): how far ahead a task may be asked to run.
MAX_DELAY_S = 365 * 86400
# A task's priority when the submit names none (0-9, higher first): its waiting list keeps
# the key name it had before priorities existed (see jobbers/store/keys.py).
DEFAULT_PRIORITY = 5


# Parents per task (``depends_on``): one submit script checks each of them.
MAX_PARENTS = 100


class TaskError(Model):
    """One entry of a task's error history: a failed attempt, a lost worker, a drop."""

    attempt: int
    at: dt.datetime
    kind: str = Field(description="error, timeout, worker_lost, stalled, dropped, cancelled")
    exc_type: str | None = None
    message: str = Field(default="", description='"ExcType: text" for errors, already prefixed')
    traceback: str | None = None
    worker_id: str | None = None


class TaskSummary(Model):
    """A task as listings show it: everything but its parameters, results and error history.

    A page holds up to 1,000 tasks, and each task's parameters and results may be large:
    listings leave them out (``last_error`` stays). ``GET /task-status/{id}`` answers the
    whole task.
    """

    model_config = ConfigDict(extra="forbid")

    id: ULID = Field(default_factory=ULID)
    name: Name
    version: int = Field(default=1, ge=0)
    queue: Name = "default"
    status: TaskStatus = TaskStatus.UNSUBMITTED
    retry_attempt: int = 0
    recoveries: int = 0
    attempt_base: int = Field(
        default=0,
        description="attempts before the last operator requeue (retry, DLQ resubmit), which "
        "may reset retry_attempt; the attempt number is attempt_base + retry_attempt + 1, "
        "and history entries record attempt_base + retry_attempt",
    )
    submitted_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    heartbeat_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    scheduled_for: dt.datetime | None = None
    last_error: str | None = None
    worker_id: str | None = None
    progress: float | None = None
    progress_message: str | None = None
    max_heartbeat_interval: float | None = Field(
        default=None, description="seconds; set when a worker starts the task"
    )
    cancel_requested: bool = False
    in_dlq: bool = False
    # Priorities (issue 15 part 3): higher runs first within a queue, FIFO among equals.
    priority: int = Field(
        default=DEFAULT_PRIORITY,
        ge=0,
        le=9,
        description="0-9, higher runs first; equal ones stay FIFO",
    )

    @property
    def attempt_number(self) -> int:
        """The attempt counted from 1 over the task's life: what every face calls "attempt"."""
        return self.attempt_base + self.retry_attempt + 1


class Task(TaskSummary):
    """A unit of work: what to run, where, and everything that happened to it."""

    parameters: dict[str, Any] = Field(default_factory=dict)
    results: dict[str, Any] | None = None
    errors: list[TaskError] = Field(default_factory=list)
    # Delayed submit (issue 15 §1): what the submitter asked for, read by submit only (the
    # stored task shows the due time as ``scheduled_for``), so never serialized.
    run_at: dt.datetime | None = Field(default=None, exclude=True)
    delay: float | None = Field(default=None, exclude=True, ge=0)
    # Workflows (jobbers/store/workflows.py): the tasks this one waits for, and its waiters.
    depends_on: list[str] = Field(
        default_factory=list, description="parent task ids: the task waits until they complete"
    )
    on_parent_failure: ParentFailure = ParentFailure.CANCEL
    children: list[str] = Field(default_factory=list, description="tasks waiting for this one")
    workflow_id: str | None = None

    def fingerprint(self, params_json: str | None = None) -> str:
        """A digest of what the client asked for; equal digests mean an idempotent resubmit."""
        params = self.params_json() if params_json is None else params_json
        fp = content_fingerprint(self.name, self.version, self.queue, params, self.priority)
        # Delayed submit (issue 15 §1): the time asked for is part of the compared body; a
        # task asked to run now keeps the digest it always had.
        due = self.due_spec()
        if due:
            fp = hashlib.sha256(f"{fp}\n{due}".encode()).hexdigest()[:32]
        return fp

    def due_spec(self) -> str:
        """The delay asked for, as submit.lua reads it: ``a<ms>`` (a Unix time in
        milliseconds), ``d<ms>`` (milliseconds from the Redis clock's now) or ``""`` (now).

        A delay counts from Redis's clock, not this host's, so a skewed client cannot move it.
        """
        if self.run_at is not None:
            return f"a{int(self.run_at.timestamp() * 1000)}"
        if self.delay is not None:
            return f"d{round(self.delay * 1000)}"
        return ""

    def params_json(self) -> str:
        """The parameters as compact JSON, rejecting values JSON cannot hold."""
        # Canonical (sorted keys) because the fingerprint is computed over this text.
        return _PARAMS_ENCODER.encode(self.parameters) if self.parameters else "{}"


# One encoder for every task: json.dumps with options builds a new one per call.
_PARAMS_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, allow_nan=False)


def content_fingerprint(
    name: str, version: int, queue: str, params_json: str, priority: int = DEFAULT_PRIORITY
) -> str:
    """SHA-256 over a submission's content, with the parameters as canonical JSON.

    Names cannot hold a newline, so the joined text is unambiguous. A priority other than
    the default is part of the content (an idempotent resubmit must ask for the same one);
    the default adds nothing, so fingerprints stored before priorities existed still match.
    """
    canonical = f"{name}\n{version}\n{queue}\n{params_json}"
    if priority != DEFAULT_PRIORITY:
        canonical += f"\npriority={priority}"
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def ms_to_datetime(value: str | float | None) -> dt.datetime | None:
    """Convert a Redis millisecond timestamp to an aware UTC datetime."""
    if value in (None, "", b""):
        return None
    return dt.datetime.fromtimestamp(int(float(value)) / 1000, tz=dt.UTC)
