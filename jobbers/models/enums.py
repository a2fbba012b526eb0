"""The named states and policies of tasks, queues, schedules and workflows.

Plain ``StrEnum``s with no pydantic: the CLI builds its choices and help pages from them
without importing a model (``tests/cli/test_layering.py``). The model modules re-export
each one where it was defined before, so ``jobbers.models.task.TaskStatus`` still works.
"""

from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    """The states a task moves through; see docs/architecture.md for the transitions."""

    UNSUBMITTED = "unsubmitted"
    SUBMITTED = "submitted"
    SCHEDULED = "scheduled"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STALLED = "stalled"
    DROPPED = "dropped"
    # Workflows (jobbers/store/workflows.py): stored, waiting for its parents to complete.
    WAITING = "waiting"

    @property
    def is_terminal(self) -> bool:
        """True when no worker will touch the task again without an operator."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.CANCELLED,
        TaskStatus.STALLED,
        TaskStatus.DROPPED,
    }
)
RETRYABLE_STATUSES = frozenset({TaskStatus.FAILED, TaskStatus.STALLED, TaskStatus.CANCELLED})


class ParentFailure(StrEnum):
    """What a waiting task does when a parent ends anything but ``completed``."""

    CANCEL = "cancel"  # the task is cancelled, naming the parent, and so are its own children
    RUN = "run"  # the task runs anyway, and reads each parent's outcome (``task.parents``)


class RatePeriod(StrEnum):
    """Unit of a queue's rate-limit window."""

    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"

    @property
    def seconds(self) -> int:
        """Length of one period in seconds."""
        return {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[self.value]


class QueueStrategy(StrEnum):
    """How a worker shares its starts between its role's queues while several have work."""

    ROUND_ROBIN = "round_robin"  # each queue comes first in turn (the default)
    STRICT = "strict"  # an earlier queue is always served before a later one
    WEIGHTED = "weighted"  # starts in proportion to each queue's weight


class OverlapPolicy(StrEnum):
    """What a tick does while the schedule's last task is not terminal."""

    SKIP = "skip"
    ALLOW = "allow"
    CANCEL_PREVIOUS = "cancel_previous"


class MissedPolicy(StrEnum):
    """What a tick found more than ``MISSED_GRACE_MS`` late does."""

    SKIP = "skip"
    RUN_ONCE = "run_once"


class FireOutcome(StrEnum):
    """What the scheduler did with a tick (``last_outcome``)."""

    FIRED = "fired"
    TRIGGERED = "triggered"
    EXISTS = "exists"  # the tick's task was already there (a replayed tick)
    SKIPPED_OVERLAP = "skipped_overlap"
    MISSED = "missed"
    NO_QUEUE = "no_queue"


class BackoffStrategy(StrEnum):
    """How the retry delay grows with the retry number."""

    CONSTANT = "constant"
    LINEAR = "linear"
    EXPONENTIAL = "exponential"
    EXPONENTIAL_JITTER = "exponential_jitter"


class DeadLetterPolicy(StrEnum):
    """Whether a permanently failed task is kept in the dead-letter queue."""

    NONE = "none"
    SAVE = "save"


class TaskShutdownPolicy(StrEnum):
    """What a worker does with a running task when it receives SIGTERM."""

    STOP = "stop"
    RESUBMIT = "resubmit"
    CONTINUE = "continue"


class WorkflowStatus(StrEnum):
    """A workflow's overall outcome, from its nodes' statuses."""

    RUNNING = "running"  # some node may still run
    COMPLETED = "completed"  # every node completed
    FAILED = "failed"  # every node ended, at least one failed, stalled or was dropped
    CANCELLED = "cancelled"  # every node ended, some cancelled, none failed
