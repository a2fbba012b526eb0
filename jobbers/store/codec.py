"""What the store reads back: the task HASH, the compact waiting record, every script reply.

The one place that knows the layout of a stored record or of a script's reply: the
``\\x1f`` waiting record (``pack_record``/``unpack_record`` in ``lua/common.lua`` are its
Lua side) and the flat arrays the scripts answer with, turned into the named records of
``jobbers.store.protocol``. (A reply of one status and its detail, such as cancel's
``{'conflict', status}``, is read where its verb maps the status to an error.)
"""

from __future__ import annotations

import json
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
from jobbers.store.protocol import (
    BeatResult,
    ClaimedTask,
    ClaimResult,
    ClaimStatus,
    DueTick,
    DueTicks,
    FireReply,
    Outcome,
    ParentRead,
    SubmitRejected,
    WaitingRecord,
)


def task_from_redis(
    task_id: str,
    fields: dict[str, str],
    params: str | None,
    results: str | None,
    history: list[str] | None = None,
) -> Task:
    """Build a Task from its HASH fields, parameter and result JSON, and history entries.

    Short results are the HASH's ``res`` field (finish.lua), read before ``results`` (the
    key ``task:{id}:r`` of long ones, and of every result stored before they moved).
    """
    results = fields.get("res", results)
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


def split_record(record: str) -> WaitingRecord:
    """A compact record's fields: queue, name, version, fp, submitted_at, params, priority.

    The priority is a seventh field only when it is not the default, so a default task's
    record is as small as it was before priorities existed.
    """
    queue, name, version, fp, submitted_at, params, *rest = record.split("\x1f")
    priority = int(rest[0]) if rest else DEFAULT_PRIORITY
    return WaitingRecord(queue, name, version, fp, submitted_at, params, priority)


def record_submitted_at(record: str) -> float:
    """A compact record's submit time alone, without splitting the parameters off."""
    return float(record.split("\x1f", 5)[4])


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


# ---------------------------------------------------------------- script replies


def decode_claim(res: list[Any]) -> ClaimResult:
    """A claim's reply (``lua/claim.lua``): ``status`` first, then for ``ok`` the skipped
    count, five fields per task (id, run id, name, version, attempt), the parameters of
    each in the same order, and after a ``@parents`` marker the parented tasks' reads."""
    status = ClaimStatus(res[0])
    if status is ClaimStatus.LIMITED:
        return ClaimResult(status, retry_after_ms=int(res[1]))
    if status is not ClaimStatus.OK:
        return ClaimResult(status)
    parented: dict[str, tuple[ParentRead, ...]] = {}
    if "@parents" in res:  # workflows: claim.lua lists the tasks with parents last
        cut = res.index("@parents")
        tail, res = res[cut + 1 :], res[:cut]
        j = 0
        while j < len(tail):  # per task: its id, then its parents' reads
            parented[tail[j]], j = decode_parent_reads(tail, j + 1)
    fields = _CLAIM_FIELDS
    count = (len(res) - 2) // (fields + 1)  # each task: its fields, then its parameters
    params = res[2 + fields * count :]
    tasks = [
        ClaimedTask(
            id=res[i],
            run_id=res[i + 1],
            name=res[i + 2],
            version=int(res[i + 3]),
            attempt=int(res[i + 4]),
            parameters=json.loads(params[k]) if params[k] != "{}" else {},
            has_parents=res[i] in parented,
            parent_reads=parented.get(res[i], ()),
        )
        for k, i in enumerate(range(2, 2 + fields * count, fields))
    ]
    return ClaimResult(status, tasks=tasks, skipped=int(res[1]))


# The fields claim.lua lists per claimed task before the parameters: id, run_id, name,
# version, attempt.
_CLAIM_FIELDS = 5


def decode_finish(res: list[Any]) -> list[Outcome]:
    """A finish batch's reply (``lua/finish.lua``): 'ok' or 'stale', then a status, per outcome."""
    return [Outcome(ok=res[i] == "ok", status=str(res[i + 1])) for i in range(0, len(res), 2)]


def decode_worker_beat(res: list[Any]) -> BeatResult:
    """A worker heartbeat's reply (``lua/worker_beat.lua``): 'reaped', or 'ok' with the
    JSON lists of stale runs and cancels, and the config version."""
    if res[0] == "reaped":
        return BeatResult(reaped=True)
    return BeatResult(
        reaped=False,
        stale=json.loads(res[1]) or [],
        cancels=json.loads(res[2]) or [],
        config_version=int(res[3]),
    )


def decode_counts(res: list[Any]) -> tuple[int, ...]:
    """A reply of counts (``reap``: workers, requeued, stalled; ``promote``: promoted,
    ms until the next is due)."""
    return tuple(int(x) for x in res)


def decode_parent_reads(res: list[Any], at: int = 0) -> tuple[tuple[ParentRead, ...], int]:
    """The parents' reads of one task (common.lua ``parent_reads``) starting at ``at``: a
    count, then parent id, status ('' when gone) and results (None when none) each; with
    the position after them."""
    n = int(res[at])
    reads = res[at + 1 : at + 1 + 3 * n]
    return tuple(zip(reads[::3], reads[1::3], reads[2::3], strict=True)), at + 1 + 3 * n


def decode_submit(res: list[Any]) -> SubmitRejected | list[tuple[str, str]]:
    """A submit's reply (``lua/submit.lua``): the batch's refusal, or per task its kind
    (new, later, exists, or a refusal of its own) and value."""
    if res[0] == "rejected":
        return decode_rejected(res)
    return list(zip(res[1::2], res[2::2], strict=True))


def decode_rejected(res: list[Any]) -> SubmitRejected:
    """A refused batch (``lua/submit.lua``, ``lua/workflow.lua``): 'rejected', position,
    kind, value."""
    return SubmitRejected(int(res[1]), res[2], res[3])


def decode_sched_due(res: list[Any]) -> DueTicks:
    """``lua/sched_due.lua``'s reply: the clock, the wait, then four fields per tick."""
    rest = res[2:]
    fields = zip(rest[::4], rest[1::4], rest[2::4], rest[3::4], strict=True)
    ticks = [
        DueTick(name, int(float(score)), raw or None, last or None)
        for name, score, raw, last in fields
    ]
    return DueTicks(int(res[0]), int(res[1]), ticks)


def decode_sched_fire(res: list[Any]) -> FireReply:
    """``lua/sched_fire.lua``'s reply: the wait, then outcome and task id per tick."""
    return FireReply(int(res[0]), list(zip(res[1::2], res[2::2], strict=True)))
