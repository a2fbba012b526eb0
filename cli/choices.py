"""Option choices mirrored from core enums, so ``--help`` need not import pydantic models.

``tests/cli/test_layering.py`` checks they stay equal to ``TaskStatus``, ``RatePeriod`` and
``QueueStrategy``.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Values of ``--status`` (``jobbers.models.task.TaskStatus``)."""

    UNSUBMITTED = "unsubmitted"
    SUBMITTED = "submitted"
    SCHEDULED = "scheduled"
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STALLED = "stalled"
    DROPPED = "dropped"
    WAITING = "waiting"


class Period(StrEnum):
    """Values of ``--rate-period`` (``jobbers.models.queue.RatePeriod``)."""

    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


class Strategy(StrEnum):
    """Values of ``--strategy`` (``jobbers.models.queue.QueueStrategy``)."""

    ROUND_ROBIN = "round_robin"
    STRICT = "strict"
    WEIGHTED = "weighted"


class GroupBy(StrEnum):
    """Values of ``jobbers workers --by``: the ``WorkerTotals`` groups of ``GET /workers``."""

    HOST = "host"
    ROLE = "role"
