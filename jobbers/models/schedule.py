"""Schedules (issue 15 §2): named cron or interval rules that submit a task at each tick.

Ticks are computed here, in Python, by ``cronsim`` (a maintained cron library; no cron
parser of our own) in the schedule's IANA timezone (``zoneinfo``). The scheduler stores the
next tick in Redis and fires it with one atomic script; the fired task's id is derived from
(schedule, tick) so that no tick can ever make two tasks.

DST, as Debian cron (and cronsim) handles it, for 5-field expressions with a fixed minute
and hour (``30 2 * * *``):

- a time that does not exist (spring forward, 02:30 in Europe/Paris on the last Sunday of
  March) fires at the first minute that exists after it (03:00);
- a time that occurs twice (fall back) fires once, at its first occurrence.

Expressions with a wildcard minute or hour (``*/15 * * * *``), and 6-field ones, follow
real time: every matching instant fires once, so an hour that repeats fires its matches
twice and an hour that is skipped fires none. ``every`` intervals are counted in seconds
from the Unix epoch and ignore the timezone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import ConfigDict, Field, StrictInt, field_validator, model_validator
from ulid import ULID

from jobbers.models.base import Model
from jobbers.models.document import check_document

# Defined without pydantic in jobbers.models.enums (the CLI imports them alone); re-exported.
from jobbers.models.enums import FireOutcome as FireOutcome
from jobbers.models.enums import MissedPolicy as MissedPolicy
from jobbers.models.enums import OverlapPolicy as OverlapPolicy
from jobbers.models.names import Name

# A tick later than this is "missed" (no scheduler ran at its time): the schedule's
# ``missed`` policy decides whether it still fires.
MISSED_GRACE_MS = 60_000
MAX_EVERY_S = 366 * 86400
MAX_JITTER_S = 3600.0


def seconds_field(default: float | None, ge: float, le: float, description: str) -> Any:
    """A duration in seconds as JSON gives it: a number (strict: not a string), finite (no
    NaN or Infinity) and within ``[ge, le]``; for schedules and delayed submits alike."""
    return Field(
        default=default, ge=ge, le=le, strict=True, allow_inf_nan=False, description=description
    )


class ScheduledTaskSpec(Model):
    """The task a schedule submits at each tick."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    version: StrictInt = Field(default=1, ge=0)
    queue: Name = "default"
    parameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _plain_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            encoded = json.dumps(value, allow_nan=False, sort_keys=True, separators=(",", ":"))
            check_document(value, "parameters", encoded)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"parameters must be plain JSON: {exc}") from None
        return value


class ScheduleSpec(Model):
    """A schedule's definition, as ``PUT /schedules/{name}`` takes it."""

    model_config = ConfigDict(extra="forbid")

    task: ScheduledTaskSpec
    cron: str | None = Field(
        default=None,
        description="5 fields (minute hour day month weekday), or 6 with seconds first",
        examples=["0 3 * * *"],
    )
    every: float | None = seconds_field(
        None, 1, MAX_EVERY_S, "seconds between ticks, counted from the Unix epoch; instead of cron"
    )
    timezone: str = Field(default="UTC", description="IANA name the cron fields are read in")
    overlap: OverlapPolicy = OverlapPolicy.SKIP
    missed: MissedPolicy = MissedPolicy.SKIP
    jitter: float = seconds_field(
        default=0,
        ge=0,
        le=MAX_JITTER_S,
        description="seconds; each tick's task is due up to this much later (fixed per tick)",
    )
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = " ".join(value.split())
        if len(value.split()) not in (5, 6):
            raise ValueError("cron must have 5 fields (or 6 with seconds first)")
        try:
            next(CronSim(value, dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
        except (CronSimError, StopIteration, ValueError) as exc:
            raise ValueError(f"cron {value!r} is not a valid expression: {exc}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {value!r} is not an IANA timezone name") from None
        return value

    @model_validator(mode="after")
    def _one_rule(self) -> ScheduleSpec:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron or every")
        return self

    def next_tick(self, after_ms: int) -> int:
        """The first tick strictly after ``after_ms`` (Unix milliseconds)."""
        if self.every is not None:
            step = round(self.every * 1000)
            return (after_ms // step + 1) * step
        assert self.cron is not None
        zone = ZoneInfo(self.timezone)
        start = dt.datetime.fromtimestamp(after_ms / 1000, zone)
        fired = next(CronSim(self.cron, start))
        return int(fired.timestamp() * 1000)


class Schedule(ScheduleSpec):
    """A named schedule, as stored in the ``sched`` hash."""

    name: Name


class ScheduleView(Schedule):
    """A schedule with what the scheduler did and will do."""

    next_fire_at: dt.datetime | None = Field(
        default=None, description="the next tick; none while paused"
    )
    last_fire_at: dt.datetime | None = Field(
        default=None, description="when the last task was submitted (Redis clock)"
    )
    last_tick_at: dt.datetime | None = Field(
        default=None, description="the tick the last outcome was for"
    )
    last_task_id: str | None = None
    last_outcome: FireOutcome | None = None


def tick_task_id(schedule: str, tick_ms: int) -> str:
    """The id of the task a schedule fires for a tick: a ULID whose time is the tick and
    whose random part is a digest of (schedule, tick).

    Two schedulers firing the same tick make the same id, and submit is idempotent on
    ids, so a double fire is impossible by construction.
    """
    digest = hashlib.sha256(f"{schedule}\n{tick_ms}".encode()).digest()
    return str(ULID.from_bytes(tick_ms.to_bytes(6, "big") + digest[:10]))


def tick_jitter_ms(schedule: str, tick_ms: int, jitter_s: float) -> int:
    """The delay a tick's task gets, fixed by (schedule, tick) so every scheduler agrees."""
    if jitter_s <= 0:
        return 0
    digest = hashlib.sha256(f"jitter\n{schedule}\n{tick_ms}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (round(jitter_s * 1000) + 1)
