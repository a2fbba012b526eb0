"""Conversion between the Redis task HASH and the Task model."""

from __future__ import annotations

from typing import Any

from jobbers.models.document import load_document
from jobbers.models.task import (
    DEFAULT_PRIORITY,
    Task,
    TaskError,
    TaskStatus,
    TaskSummary,
    ms_to_datetime,
)


def task_from_redis(
    task_id: str,
    fields: dict[str, str],
    params: str | None,
    results: str | None,
    history: list[str] | None = None,
) -> Task:
    """Build a Task from its HASH fields, parameter and result JSON, and history entries."""
    errors = []
    for raw in history or []:
        entry: dict[str, Any] = load_document(raw)
        entry["at"] = ms_to_datetime(entry.get("at"))
        errors.append(TaskError.model_validate(entry))
    return Task.model_construct(
        **_summary_fields(task_id, fields),
        parameters=load_document(params) if params else {},
        results=load_document(results) if results else None,
        errors=errors,
    )


def summary_from_redis(task_id: str, fields: dict[str, str]) -> TaskSummary:
    """Build a listing's TaskSummary from the task HASH alone (no parameters or results)."""
    return TaskSummary.model_construct(**_summary_fields(task_id, fields))


def _summary_fields(task_id: str, fields: dict[str, str]) -> dict[str, Any]:
    hbmax = int(fields.get("hbmax") or 0)
    progress = fields.get("progress")
    return {
        "id": _ulid(task_id),
        "name": fields["name"],
        "version": int(fields["version"]),
        "queue": fields["queue"],
        "status": TaskStatus(fields.get("status", "submitted")),
        "retry_attempt": int(fields.get("attempt") or 0),
        "recoveries": int(fields.get("recoveries") or 0),
        "attempt_base": int(fields.get("abase") or 0),
        "submitted_at": ms_to_datetime(fields.get("submitted_at")),
        "started_at": ms_to_datetime(fields.get("started_at")),
        "heartbeat_at": ms_to_datetime(fields.get("heartbeat_at")),
        "completed_at": ms_to_datetime(fields.get("completed_at")),
        "scheduled_for": ms_to_datetime(fields.get("scheduled_for")),
        "last_error": fields.get("last_error") or None,
        "worker_id": fields.get("worker") or None,
        "progress": float(progress) if progress else None,
        "progress_message": fields.get("pmsg") or None,
        "max_heartbeat_interval": hbmax / 1000 if hbmax else None,
        "cancel_requested": fields.get("cancel") == "1",
        "in_dlq": fields.get("in_dlq") == "1",
        # Stored only when not the default (see ``jobbers/store/keys.py``).
        "priority": int(fields.get("prio") or DEFAULT_PRIORITY),
    }


def _ulid(value: str) -> Any:
    from ulid import ULID

    return ULID.from_str(value)


def split_record(record: str) -> tuple[str, str, str, str, str, str, int]:
    """A compact record's fields: queue, name, version, fp, submitted_at, params, priority.

    The priority is a seventh field only when it is not the default, so a default task's
    record is as small as it was before priorities existed.
    """
    queue, name, version, fp, submitted_at, params, *rest = record.split("\x1f")
    priority = int(rest[0]) if rest else DEFAULT_PRIORITY
    return queue, name, version, fp, submitted_at, params, priority


def task_from_record(task_id: str, record: str) -> Task:
    """Build a waiting Task from its compact record (``wait`` in ``jobbers/store/keys.py``)."""
    queue, name, version, _fp, submitted_at, params, priority = split_record(record)
    return Task.model_construct(
        id=_ulid(task_id),
        name=name,
        version=int(version),
        queue=queue,
        parameters=load_document(params) if params else {},
        status=TaskStatus.SUBMITTED,
        submitted_at=ms_to_datetime(submitted_at),
        errors=[],
        priority=priority,
    )


def summary_from_record(task_id: str, record: str) -> TaskSummary:
    """Build a listing's TaskSummary of a waiting task from its compact record."""
    queue, name, version, _fp, submitted_at, _params, priority = split_record(record)
    return TaskSummary.model_construct(
        id=_ulid(task_id),
        name=name,
        version=int(version),
        queue=queue,
        status=TaskStatus.SUBMITTED,
        submitted_at=ms_to_datetime(submitted_at),
        priority=priority,
    )
