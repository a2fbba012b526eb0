"""Request and response bodies of the manager's HTTP API.

The server uses these as ``response_model`` and request bodies; the client parses
responses into the same classes, so both sides agree by construction. Domain models
(Task, QueueConfig, Role, Stats, WorkerInfo, Page) come from ``jobbers.models``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from ulid import ULID

from jobbers.models.dashboard import Page, QueueStats, Stats, WorkerInfo
from jobbers.models.names import Name
from jobbers.models.queue import QueueConfig, RatePeriod, Role
from jobbers.models.task import Task, TaskError, TaskStatus

MAX_BULK = 1000

__all__ = [
    "CancelManyRequest",
    "CancelResponse",
    "DLQDeleteRequest",
    "DLQDeleteResponse",
    "DLQHistoryResponse",
    "DLQResubmitRequest",
    "Health",
    "Message",
    "OutcomesResponse",
    "Page",
    "PurgeResponse",
    "QueueConfig",
    "QueueStats",
    "QueueUpdate",
    "RatePeriod",
    "RetryRequest",
    "Role",
    "RoleUpdate",
    "Stats",
    "SubmitTaskRequest",
    "SubmitTaskResponse",
    "Task",
    "TaskError",
    "TaskPage",
    "TaskStatus",
    "WorkerInfo",
    "WorkersResponse",
]

TaskPage = Page[Task]


class SubmitTaskRequest(BaseModel):
    """Body of ``POST /submit-task``; ``id`` is generated when omitted."""

    model_config = ConfigDict(extra="forbid")

    id: ULID | None = None
    name: Name
    version: int = Field(default=1, ge=0)
    queue: Name = "default"
    parameters: dict[str, Any] = Field(default_factory=dict)


class SubmitTaskResponse(BaseModel):
    """Answer of ``POST /submit-task`` (201 when stored, 200 for an idempotent repeat)."""

    message: str
    task: Task


class CancelResponse(BaseModel):
    """Answer of ``POST /task/{id}/cancel``."""

    id: str
    outcome: Literal["cancelled", "cancel_requested"]
    task: Task


class CancelManyRequest(BaseModel):
    """Body of ``POST /tasks/cancel``."""

    model_config = ConfigDict(extra="forbid")

    task_ids: list[str] = Field(min_length=1, max_length=MAX_BULK)


class OutcomesResponse(BaseModel):
    """Per-id outcomes of a bulk operation; one bad id never aborts the rest."""

    results: dict[str, str]


class RetryRequest(BaseModel):
    """Body of ``POST /task/{id}/retry`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    reset_retry_count: bool = False


class QueueUpdate(BaseModel):
    """Body of ``PUT /queues/{name}``: the queue's limits (the name comes from the path)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    max_concurrent: int | None = Field(default=None, ge=1, le=100_000)
    rate_numerator: int | None = Field(default=None, ge=1, le=1_000_000)
    rate_denominator: int | None = Field(default=None, ge=1, le=1_000_000)
    rate_period: RatePeriod | None = None


class RoleUpdate(BaseModel):
    """Body of ``PUT /roles/{role_name}``: the new queue list."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    queues: list[Name] = Field(default_factory=list, max_length=256)


class PurgeResponse(BaseModel):
    """Answer of ``POST /queues/{name}/purge``."""

    queue: str
    cancelled: int


class DLQHistoryResponse(BaseModel):
    """Answer of ``GET /dead-letter-queue/{id}/history``."""

    task_id: str
    task: Task
    history: list[TaskError]


class DLQResubmitRequest(BaseModel):
    """Body of ``POST /dead-letter-queue/resubmit``: explicit ids, or a filter."""

    model_config = ConfigDict(extra="forbid")

    task_ids: list[str] | None = Field(default=None, max_length=MAX_BULK)
    task_name: Name | None = None
    queue: Name | None = None
    task_version: int | None = None
    reset_retry_count: bool = False
    limit: int = Field(default=100, ge=1, le=MAX_BULK)


class DLQDeleteRequest(BaseModel):
    """Body of ``DELETE /dead-letter-queue``: explicit ids, or a filter."""

    model_config = ConfigDict(extra="forbid")

    task_ids: list[str] | None = Field(default=None, max_length=MAX_BULK)
    task_name: Name | None = None
    queue: Name | None = None
    task_version: int | None = None
    limit: int = Field(default=MAX_BULK, ge=1, le=MAX_BULK)


class DLQDeleteResponse(BaseModel):
    """Answer of ``DELETE /dead-letter-queue``."""

    removed: int
    task_ids: list[str]


class WorkersResponse(BaseModel):
    """Answer of ``GET /workers``."""

    workers: list[WorkerInfo]


class Health(BaseModel):
    """Answer of ``GET /health``: 200 when Redis answers, 503 otherwise."""

    status: Literal["ok", "unavailable"]
    redis: bool
    version: str


class Message(BaseModel):
    """A plain confirmation."""

    message: str
