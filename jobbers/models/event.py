"""A task's status change, as the event stream carries it (``lua/common.lua``, ``ev`` key).

Every transition adds one entry to a capped Redis Stream in the script that makes it, so
the stream holds no event that did not happen and misses none while Redis is up. The
manager serves it as Server-Sent Events (``GET /events``); the entry id is the SSE event
id a client resumes from (``Last-Event-ID``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pydantic import ConfigDict, Field, ValidationError

from jobbers.models.base import Model
from jobbers.models.task import TaskStatus

# An event id: the stream entry's id (milliseconds of the Redis clock, a dash, a sequence
# number), and for an entry that records a batch, a dot and the change's index in it.
EVENT_ID_PATTERN = r"^[0-9]{1,20}-[0-9]{1,20}(\.[0-9]{1,6})?$"
_EVENT_ID = re.compile(EVENT_ID_PATTERN)


class TaskEvent(Model):
    """One status change of one task."""

    model_config = ConfigDict(frozen=True)

    event_id: str = Field(description="the stream entry id; resume after it with Last-Event-ID")
    task_id: str
    name: str = Field(description="the task's name ('' if the record had none)")
    queue: str
    from_status: TaskStatus | None = Field(description="the status it left; null for a new task")
    status: TaskStatus = Field(description="the status it entered")
    at: dt.datetime = Field(description="when, on the Redis clock (the entry id's milliseconds)")
    worker_id: str | None = Field(description="the worker that ran it last, if any did")
    attempt: int = Field(ge=0, description="the task's retry count at the change (0 = first run)")


def is_event_id(value: str) -> bool:
    """Whether ``value`` is a stream entry id (what Last-Event-ID must hold)."""
    return bool(_EVENT_ID.match(value))


def split_event_id(event_id: str) -> tuple[str, int]:
    """The entry id and the index in it of an event id (-1: the whole entry)."""
    entry, _, index = event_id.partition(".")
    return entry, int(index) if index else -1


def events_from_entry(entry_id: str, fields: dict[str, str]) -> list[TaskEvent]:
    """The changes an entry of the stream records, or none for an entry it cannot read.

    A batch's entry (``lua/common.lua``) holds several ids joined by ``,``, and for name,
    worker and attempt either as many values or one that all share; its events get the
    ids ``{entry}.{index}``; its ids may be stored as their shared start ``idp`` and the
    rest of each in ``ids``. An unreadable entry gives none: one damaged or newer-format
    entry must never break a reader.
    """
    try:
        if "ids" in fields:
            prefix = fields.get("idp", "")
            ids = [prefix + rest for rest in fields["ids"].split(",")]
        else:
            ids = fields["id"].split(",")
        n = len(ids)
        per = {k: fields.get(k, "").split(",") for k in ("name", "worker", "attempt")}
        if any(len(v) not in (1, n) for v in per.values()):
            return []
        at = dt.datetime.fromtimestamp(int(entry_id.split("-", 1)[0]) / 1000, dt.UTC)
        queue, came, went = fields["queue"], fields.get("from") or None, fields["to"]
        return [
            TaskEvent(
                event_id=entry_id if n == 1 else f"{entry_id}.{i}",
                task_id=task_id,
                name=per["name"][i % len(per["name"])],
                queue=queue,
                from_status=came,
                status=went,
                at=at,
                worker_id=per["worker"][i % len(per["worker"])] or None,
                attempt=int(per["attempt"][i % len(per["attempt"])] or 0),
            )
            for i, task_id in enumerate(ids)
        ]
    except (KeyError, ValueError, ValidationError, OverflowError):
        return []


@dataclass(frozen=True)
class EventFilter:
    """Which events a reader wants; an unset field matches every event."""

    queue: str | None = None
    task_id: str | None = None
    name: str | None = None
    status: TaskStatus | None = None

    def matches(self, event: TaskEvent) -> bool:
        """Whether ``event`` passes every set field (``status`` is the status entered)."""
        return (
            (self.queue is None or event.queue == self.queue)
            and (self.task_id is None or event.task_id == self.task_id)
            and (self.name is None or event.name == self.name)
            and (self.status is None or event.status == self.status)
        )
