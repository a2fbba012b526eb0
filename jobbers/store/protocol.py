"""The named protocol between Python and the Lua scripts: statuses, outcomes, reply records.

The scripts answer with flat arrays of strings; ``jobbers.store.codec`` turns the replies
that carry records (a claim's tasks, a batch's outcomes, due ticks, parents' reads) into
the records below, so no caller reads one by stride. Every value here is the string the
scripts send or expect: a ``StrEnum`` compares equal to it, and one event has one name
from the worker that stops a run, through the script, to the hook that sees its outcome
(a run stopped by a shutdown under policy STOP is ``stopped`` all the way; its task's
status is ``stalled``, as for a missed heartbeat).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple


class ClaimStatus(StrEnum):
    """The first item of a claim's reply (``lua/claim.lua``): tasks, or why none."""

    OK = "ok"
    DEAD = "dead"  # the worker's lease lapsed: it registers again
    NOQUEUE = "noqueue"  # the queue is gone
    PAUSED = "paused"
    CONFIG = "config"  # the queues' limits moved past the worker's view: it re-reads them
    LIMITED = "limited"  # the queue's rate limit is reached for now


class RunOutcome(StrEnum):
    """How a run ended: the outcome a worker sends ``lua/finish.lua``, and the name
    ``after_run`` and the worker metrics give it (``LOST`` is never sent: nothing is
    recorded for a run this worker no longer holds)."""

    COMPLETED = "completed"
    FAILED = "failed"  # for good: no retry left, or an unexpected error
    RETRIED = "retried"
    CANCELLED = "cancelled"
    RESUBMITTED = "resubmitted"  # handed back to its queue by a stopping worker
    STOPPED = "stopped"  # ended ``stalled`` by a stopping worker (policy STOP)
    LOST = "lost"  # the run was taken from this worker (its lease lapsed): nothing recorded


class StopReason(StrEnum):
    """Why a worker stops a run before it returns: each is named by the outcome it ends in."""

    CANCELLED = RunOutcome.CANCELLED.value  # a cancel request
    STOPPED = RunOutcome.STOPPED.value  # worker shutdown, policy STOP: the task ends stalled
    RESUBMITTED = RunOutcome.RESUBMITTED.value  # worker shutdown or retire, policy RESUBMIT
    LOST = RunOutcome.LOST.value  # the run is no longer this worker's: nothing to record


class TaskBeatReply(StrEnum):
    """A task heartbeat's answer (``lua/task_beat.lua``): go on, or the reason to stop."""

    OK = "ok"
    CANCELLED = StopReason.CANCELLED.value  # a cancel is pending
    LOST = StopReason.LOST.value  # the run is no longer this worker's


class TypeSpec(NamedTuple):
    """What a worker tells a claim about one task type it runs, fixed at start."""

    heartbeat_ms: int  # the task's max heartbeat interval (0: none)
    dead_letter: int  # 1: a failed run goes to the DLQ (policy SAVE), else 0


class ClaimSpec(NamedTuple):
    """A claim's offer for one task type (``known_json`` in ``lua/claim.lua``)."""

    heartbeat_ms: int
    dead_letter: int
    free: int  # how many more of the type the worker may start now (-1: no cap)


# A parent's outcome as a claimed child reads it: (parent id, status or '' when gone, raw
# results or None), read by the claim itself (``parent_reads`` in ``lua/common.lua``).
ParentRead = tuple[str, str, str | None]


@dataclass(frozen=True)
class ClaimedTask:
    """A task a worker now holds: run it, then report with the same run id."""

    id: str
    run_id: str
    name: str
    version: int
    attempt: int
    parameters: dict[str, Any]
    # Workflows: the task has parents, whose outcomes and results it reads (``task.parents``).
    has_parents: bool = False
    parent_reads: tuple[ParentRead, ...] = ()


@dataclass(frozen=True)
class ClaimResult:
    """What a claim on one queue gave: tasks, or why there were none."""

    status: ClaimStatus
    tasks: list[ClaimedTask] = field(default_factory=list)
    skipped: int = 0  # waiting lists (a type at one priority) left because of the worker's caps
    retry_after_ms: int = 0  # for ``LIMITED``


@dataclass(frozen=True)
class BeatResult:
    """A worker heartbeat's answer: runs it lost, cancels to apply, the config version."""

    reaped: bool
    stale: list[str] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    config_version: int = 0


@dataclass(frozen=True)
class Outcome:
    """One outcome's answer from ``lua/finish.lua``: the new status, or ``stale``
    (``ok`` false) when fenced off, with the task's current status."""

    ok: bool
    status: str


class WaitingRecord(NamedTuple):
    """A compact waiting task: the ``wait`` HASH's value (see ``jobbers/store/keys.py``)."""

    queue: str
    name: str
    version: str
    fp: str
    submitted_at: str  # ms of the Redis clock
    params: str  # JSON text, '' for {}
    priority: int


class SubmitRejected(NamedTuple):
    """A submit or workflow batch refused whole: the task that stopped it, and why."""

    position: int  # 1-based position of the task in the batch (0: the batch as a whole)
    kind: str  # conflict | expired | noqueue (| unknown, order: workflows)
    value: str  # the status, same content 0/1, the queue, or the parent ids


class DueTick(NamedTuple):
    """A schedule tick ``lua/sched_due.lua`` found due."""

    name: str
    tick: int  # ms
    definition: str | None  # the schedule's JSON (None: gone)
    last: str | None  # JSON of the last tick's outcome (None: none yet)


class DueTicks(NamedTuple):
    """``lua/sched_due.lua``'s reply."""

    now: int  # ms of the Redis clock
    wait_ms: int  # until the earliest tick (-1: none)
    ticks: list[DueTick]


class FireReply(NamedTuple):
    """``lua/sched_fire.lua``'s reply: the wait until the next tick, and per tick fired
    its outcome (``FireOutcome``) and task id."""

    wait_ms: int
    fired: list[tuple[str, str]]
