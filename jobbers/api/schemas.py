"""Request and response bodies of the manager's HTTP API.

The server uses these as ``response_model`` and request bodies; the client parses
responses into the same classes, so both sides agree by construction. Domain models
(Task, QueueConfig, Role, Stats, WorkerInfo, Page) come from ``jobbers.models``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from ulid import ULID

from jobbers.errors import InvalidDocument
from jobbers.models.base import Model
from jobbers.models.dashboard import Page, QueueStats, Stats, WorkerGroup, WorkerInfo, WorkerTotals
from jobbers.models.document import check_document
from jobbers.models.event import TaskEvent
from jobbers.models.names import Name, canonical_ulid
from jobbers.models.queue import (
    QueueConfig,
    QueueStrategy,
    RatePeriod,
    Role,
    Weight,
    check_strategy,
)
from jobbers.models.schedule import Schedule, ScheduleSpec, ScheduleView, seconds_field
from jobbers.models.task import (
    DEFAULT_PRIORITY,
    MAX_DELAY_S,
    MAX_PARENTS,
    ParentFailure,
    Task,
    TaskError,
    TaskStatus,
    TaskSummary,
)

MAX_BULK = 1000

__all__ = [
    "ULID_PATTERN",
    "ActiveTask",
    "ActiveTaskPage",
    "CancelManyRequest",
    "CancelResponse",
    "DLQDeleteRequest",
    "DLQDeleteResponse",
    "DLQHistoryResponse",
    "DLQResubmitRequest",
    "DLQResubmitResponse",
    "ErrorResponse",
    "Health",
    "Message",
    "OutcomesResponse",
    "Page",
    "PurgeResponse",
    "QueueConfig",
    "QueueStats",
    "QueueStrategy",
    "QueueUpdate",
    "QueuesResponse",
    "RatePeriod",
    "RetryRequest",
    "Role",
    "RoleUpdate",
    "RolesResponse",
    "Schedule",
    "ScheduleSpec",
    "ScheduleUpdate",
    "ScheduleView",
    "ScheduledTask",
    "ScheduledTaskPage",
    "SchedulesResponse",
    "Stats",
    "SubmitTaskRequest",
    "SubmitTaskResponse",
    "SubmitTasksRequest",
    "SubmitTasksResponse",
    "SubmittedTask",
    "Task",
    "TaskError",
    "TaskEvent",
    "TaskId",
    "TaskPage",
    "TaskStatus",
    "TaskSummary",
    "TriggerResponse",
    "WorkerGroup",
    "WorkerInfo",
    "WorkerTotals",
    "WorkersResponse",
    "canonical_ulid",
]

# Listing rows leave out parameters, results and error history (see TaskSummary).
TaskPage = Page[TaskSummary]

# Crockford base32 as the ULID spec reads it: case-insensitive, with I/L read as 1 and O as
# 0 (so the user guide's example id is accepted), and a first character of 0-7 (128 bits).
ULID_PATTERN = r"^[0-7][0-9A-TV-Za-tv-z]{25}$"
_ULID_JSON_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "pattern": ULID_PATTERN,
        "minLength": 26,
        "maxLength": 26,
        "examples": ["01JBKR2E5F3G4H5J6K718M9N0P"],
    }
)


def _ulid_input(value: object) -> object:
    """Let a submitted id use any spelling ``canonical_ulid`` accepts, and nothing but text."""
    if isinstance(value, ULID):
        return value
    if isinstance(value, str):
        return canonical_ulid(value)
    # python-ulid would try numbers as ints and anything else as bytes (a TypeError).
    raise ValueError("a ULID is a string of 26 Crockford base32 characters")


TaskId = Annotated[str, AfterValidator(canonical_ulid), _ULID_JSON_SCHEMA]
"""A task id in a path or list: validated as a ULID and returned in canonical form."""

SubmittedId = Annotated[ULID, BeforeValidator(_ulid_input), _ULID_JSON_SCHEMA]


def _time_text(value: object) -> object:
    """Delayed submit (issue 15 §1): a time is RFC 3339 text (or a datetime in Python),
    never a bare number that pydantic would read as a Unix time."""
    if isinstance(value, str | dt.datetime):
        return value
    raise ValueError("run_at must be an RFC 3339 time with a timezone")


RunAt = Annotated[AwareDatetime, BeforeValidator(_time_text)]


class SubmitTaskRequest(Model):
    """Body of ``POST /submit-task``; ``id`` is generated when omitted."""

    model_config = ConfigDict(extra="forbid")

    id: SubmittedId | None = None
    name: Name
    version: StrictInt = Field(default=1, ge=0)
    queue: Name = "default"
    parameters: dict[str, Any] = Field(default_factory=dict)
    # Priorities (issue 15 part 3): part of the compared body of an idempotent submit.
    priority: StrictInt = Field(
        default=DEFAULT_PRIORITY, ge=0, le=9, description="0-9, higher runs first"
    )

    @field_validator("parameters")
    @classmethod
    def _plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Python's JSON parser accepts NaN, Infinity, lone surrogates and any nesting; none
        # of them could be sent back out, so the store must never see them.
        try:
            encoded = json.dumps(value, allow_nan=False)
        except (ValueError, RecursionError):
            raise ValueError("parameters must be plain JSON (no NaN or Infinity)") from None
        try:
            check_document(value, "parameters", encoded)
        except InvalidDocument as exc:
            raise ValueError(str(exc)) from None  # a plain ValueError: a plain 422 entry
        return value

    # Delayed submit (issue 15 §1): when to run, as a time or as seconds from now.
    run_at: RunAt | None = Field(
        default=None,
        description="RFC 3339 time with a timezone; in the past runs now; at most a year ahead",
    )
    delay: float | None = seconds_field(
        None, 0, MAX_DELAY_S, "seconds from now (the Redis clock); instead of run_at"
    )

    @field_validator("run_at")
    @classmethod
    def _within_a_year(cls, value: dt.datetime | None) -> dt.datetime | None:
        # The host clock is good enough for a bound a year away; Redis decides the due time.
        if value is not None and value > dt.datetime.now(dt.UTC) + dt.timedelta(
            seconds=MAX_DELAY_S
        ):
            raise ValueError("run_at is more than a year ahead")
        return value

    @model_validator(mode="after")
    def _one_time(self) -> SubmitTaskRequest:
        if self.run_at is not None and self.delay is not None:
            raise ValueError("give run_at or delay, not both")
        if self.depends_on and (self.run_at is not None or self.delay is not None):
            # A dependent task starts when its parents complete: a due time too would need
            # a second wait that no script keeps; say so rather than drop one of them.
            raise ValueError("a task with depends_on cannot also have run_at or delay")
        return self

    # Workflows (jobbers/store/workflows.py): the task waits until these tasks complete.
    depends_on: list[SubmittedId] = Field(default_factory=list, max_length=MAX_PARENTS)
    on_parent_failure: ParentFailure = ParentFailure.CANCEL


class SubmitTaskResponse(Model):
    """Answer of ``POST /submit-task`` (201 when stored, 200 for an idempotent repeat)."""

    message: str
    task: Task


class SubmitTasksRequest(Model):
    """Body of ``POST /submit-tasks``: up to 1,000 tasks, stored all or nothing."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[SubmitTaskRequest] = Field(min_length=1, max_length=MAX_BULK)


class SubmittedTask(Model):
    """One task of a batch submit: its id, and whether this call stored it."""

    id: str
    created: bool = Field(description="false when the same id and body were already stored")
    status: TaskStatus


class SubmitTasksResponse(Model):
    """Answer of ``POST /submit-tasks``, in the order of the request (201 when any is new)."""

    created: int
    existing: int
    tasks: list[SubmittedTask]


class CancelResponse(Model):
    """Answer of ``POST /task/{id}/cancel``."""

    id: str
    outcome: Literal["cancelled", "cancel_requested"]
    task: Task


class CancelManyRequest(Model):
    """Body of ``POST /tasks/cancel``."""

    model_config = ConfigDict(extra="forbid")

    task_ids: list[str] = Field(min_length=1, max_length=MAX_BULK)


class OutcomesResponse(Model):
    """Per-id outcomes of a bulk operation; one bad id never aborts the rest."""

    results: dict[str, str]


class RetryRequest(Model):
    """Body of ``POST /task/{id}/retry`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    reset_retry_count: StrictBool = False


class QueueUpdate(Model):
    """Body of ``PUT /queues/{name}``: the queue's limits (the name comes from the path)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    max_concurrent: StrictInt | None = Field(default=None, ge=1, le=100_000)
    rate_numerator: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    rate_denominator: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    rate_period: RatePeriod | None = None


class RoleUpdate(Model):
    """Body of ``PUT /roles/{role_name}``: the new queue list."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    queues: list[Name] = Field(default_factory=list, max_length=256)
    # Between queues (issue 15 part 3): see Role.
    strategy: QueueStrategy = QueueStrategy.ROUND_ROBIN
    weights: dict[Name, Weight] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fitting_weights(self) -> RoleUpdate:
        check_strategy(self.queues, self.strategy, self.weights)
        return self


class ScheduleUpdate(ScheduleSpec):
    """Body of ``PUT /schedules/{name}`` (issue 15 §2): the whole definition; a ``name``,
    if given, must be the path's."""

    name: Name | None = None


class SchedulesResponse(Model):
    """Answer of ``GET /schedules``: every schedule, sorted by name."""

    schedules: list[ScheduleView]


class TriggerResponse(Model):
    """Answer of ``POST /schedules/{name}/trigger``: the task submitted now."""

    message: str
    task: Task


class PurgeResponse(Model):
    """Answer of ``POST /queues/{name}/purge``."""

    queue: str
    cancelled: int


class DLQHistoryResponse(Model):
    """Answer of ``GET /dead-letter-queue/{id}/history``."""

    task_id: str
    task: Task
    history: list[TaskError]


class DLQSelection(Model):
    """What a bulk DLQ request applies to: explicit ids, or a filter (and a ``limit``)."""

    model_config = ConfigDict(extra="forbid")

    task_ids: list[str] | None = Field(default=None, max_length=MAX_BULK)
    task_name: Name | None = None
    queue: Name | None = None
    task_version: StrictInt | None = Field(default=None, ge=0)


class DLQResubmitRequest(DLQSelection):
    """Body of ``POST /dead-letter-queue/resubmit``: explicit ids, or a filter."""

    reset_retry_count: StrictBool = False
    limit: StrictInt = Field(default=100, ge=1, le=MAX_BULK)
    parameters: dict[str, Any] | None = Field(
        default=None,
        description="new parameters for every resubmitted task: merged over its own (these "
        "keys win), or instead of them with replace_parameters",
    )
    replace_parameters: StrictBool = False

    @field_validator("parameters")
    @classmethod
    def _plain_json(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # As SubmitTaskRequest's: refused as a whole (422) before any task is touched.
        return None if value is None else SubmitTaskRequest._plain_json(value)


class DLQDeleteRequest(DLQSelection):
    """Body of ``DELETE /dead-letter-queue``: explicit ids, or a filter."""

    limit: StrictInt = Field(default=MAX_BULK, ge=1, le=MAX_BULK)


class DLQDeleteResponse(Model):
    """Answer of ``DELETE /dead-letter-queue``."""

    removed: int
    task_ids: list[str]


class WorkersResponse(Model):
    """Answer of ``GET /workers``."""

    workers: list[WorkerInfo]
    # Per host and per role (``WorkerTotals.of``); added later, so old answers lack it.
    totals: WorkerTotals = Field(default_factory=WorkerTotals)


class Health(Model):
    """Answer of ``GET /health``: 200 when Redis answers, 503 otherwise."""

    status: Literal["ok", "unavailable"]
    redis: bool
    version: str


class Message(Model):
    """A plain confirmation."""

    message: str


class ErrorResponse(Model):
    """Body of every error but 422: a human-readable ``detail``."""

    detail: str


class QueuesResponse(Model):
    """Answer of ``GET /queues``."""

    queues: list[QueueConfig]


class RolesResponse(Model):
    """Answer of ``GET /roles``."""

    roles: list[Role]


class DLQResubmitResponse(OutcomesResponse):
    """Answer of ``POST /dead-letter-queue/resubmit``: per-id outcomes and how many went back."""

    resubmitted: int


class ActiveTask(TaskSummary):
    """A running task with the ages an operator watches, computed on the manager's clock."""

    elapsed_s: float | None = Field(default=None, description="seconds since the run started")
    heartbeat_age_s: float | None = Field(
        default=None, description="seconds since the last heartbeat (or the start)"
    )


class ScheduledTask(TaskSummary):
    """A task waiting for a retry, with the seconds until it is due (negative when overdue)."""

    due_in_s: float | None = None


ActiveTaskPage = Page[ActiveTask]
ScheduledTaskPage = Page[ScheduledTask]
