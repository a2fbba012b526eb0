"""Schedule verbs of the StateManager (issue 15 §2), kept apart from the task verbs.

A schedule is one field of the ``sched`` hash (its JSON) and, while enabled, one member of
``sched:next`` scored by its next tick; ``sched:last`` says what the last tick did. Every
scheduler reads the due members (``sched_due.lua``), computes in Python what cron says
(the next tick, in the schedule's timezone) and fires them with ``sched_fire.lua``, which
fires a tick only while ``sched:next`` still holds it and derives the task id from
(schedule, tick): any number of schedulers, restarts and replays fire each tick once.
Times are the Redis clock's. Nothing here scans: O(due schedules) per step.
"""

from __future__ import annotations

import functools
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, cast

from pydantic import ValidationError
from redis.asyncio import Redis

from jobbers.errors import AlreadyExists, Conflict, InvalidInput, ScheduleNotFound
from jobbers.models.names import check_name
from jobbers.models.schedule import (
    MISSED_GRACE_MS,
    FireOutcome,
    MissedPolicy,
    OverlapPolicy,
    Schedule,
    ScheduleView,
    tick_jitter_ms,
    tick_task_id,
)
from jobbers.models.task import Task, ms_to_datetime
from jobbers.store.codec import decode_sched_due, decode_sched_fire
from jobbers.store.config import CAS_TRIES
from jobbers.store.keys import Keys
from jobbers.store.scripts import Scripts
from jobbers.store.verbs import store_verbs

log = logging.getLogger("jobbers.schedules")

# Schedules fired per script call: a few milliseconds of Redis time (sched_fire writes a
# batch's indexes once per queue), few round trips for a burst of a thousand, and small
# enough that several schedulers share it (sched_due.lua spreads them; a scheduler that
# finds a full batch wakes another: Scheduler.step).
FIRE_BATCH = 200
# Definitions a scheduler parses ahead of a coming burst of ticks (see warm_schedules):
# those due within WARM_SPAN_MS of the earliest, at most WARM_LIMIT (well within the parse
# caches' size).
WARM_LIMIT = 2000
WARM_SPAN_MS = 1000


@store_verbs
class Schedules:
    """Schedule verbs; ``StateManager`` owns one and offers its verbs."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        scripts: Scripts,
        get_task: Callable[[str], Awaitable[Task]],
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.scripts = scripts
        # How a trigger reads the task it fired: the task verbs are StateManager's own.
        self._read_task = get_task

    async def _clock_ms(self) -> int:
        sec, usec = await self.redis.time()
        return int(sec) * 1000 + int(usec) // 1000

    async def ring_scheduler(self) -> None:
        """Ring the schedulers' doorbell: one blocked scheduler wakes and steps."""
        await self.redis.zadd(self.keys.sched_bell, {"r": 0})

    async def list_schedules(self) -> list[ScheduleView]:
        """Every schedule, sorted by name, with its next and last fire; O(schedules)."""
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(k.schedules)
        pipe.zrange(k.schedule_next, 0, -1, withscores=True)
        pipe.hgetall(k.schedule_last)
        raw, nexts, lasts = await pipe.execute()
        next_of = dict(cast(list[tuple[str, float]], nexts))
        views = []
        for name in sorted(raw):
            view = _view(name, raw[name], next_of.get(name), lasts.get(name))
            if view is not None:
                views.append(view)
        return views

    async def get_schedule(self, name: str) -> ScheduleView:
        """One schedule; ScheduleNotFound if absent."""
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(k.schedules, name)
        pipe.zscore(k.schedule_next, name)
        pipe.hget(k.schedule_last, name)
        raw, nxt, last = await pipe.execute()
        if raw is None:
            raise ScheduleNotFound(f"schedule {name!r} not found")
        view = _view(name, raw, nxt, last)
        if view is None:
            raise ScheduleNotFound(
                f"schedule {name!r} is stored in a form this version cannot read; "
                "replace it (PUT) or delete it"
            )
        return view

    async def create_schedule(self, schedule: Schedule) -> ScheduleView:
        """Store a new schedule; AlreadyExists if the name is taken."""
        outcome = await self._put(schedule, "")
        if outcome == "exists":
            raise AlreadyExists(f"schedule {schedule.name!r} already exists")
        return await self.get_schedule(schedule.name)

    async def put_schedule(self, schedule: Schedule) -> tuple[ScheduleView, bool]:
        """Create or replace a schedule: (schedule, created). Its next tick is recomputed
        from now, so an unchanged rule keeps its next tick; its last outcome is kept."""
        created = not await self.redis.hexists(self.keys.schedules, schedule.name)
        await self._put(schedule, "*")
        return await self.get_schedule(schedule.name), created

    async def delete_schedule(self, name: str) -> None:
        """Delete a schedule; tasks it already fired are untouched."""
        k = self.keys
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(k.schedules, name)
        pipe.zrem(k.schedule_next, name)
        pipe.hdel(k.schedule_last, name)
        removed, _, _ = await pipe.execute()
        if not removed:
            raise ScheduleNotFound(f"schedule {name!r} not found")

    async def set_schedule_enabled(self, name: str, enabled: bool) -> ScheduleView:
        """Pause (no tick fires) or resume (the next tick from now) a schedule."""
        for _ in range(CAS_TRIES):
            raw = cast(str | None, await self.redis.hget(self.keys.schedules, name))
            if raw is None:
                raise ScheduleNotFound(f"schedule {name!r} not found")
            current = _parsed(name, raw)
            if current is None:
                raise Conflict(f"schedule {name!r} is unreadable; replace it with PUT")
            if await self._put(current.model_copy(update={"enabled": enabled}), raw) == "ok":
                return await self.get_schedule(name)
        raise Conflict(f"schedule {name!r} kept changing; try again")

    async def trigger_schedule(self, name: str) -> Task:
        """Submit the schedule's task once now, whatever its overlap policy and state.

        The task id is derived from (schedule, now): a repeated call in the same
        millisecond finds the same task.
        """
        raw = cast(str | None, await self.redis.hget(self.keys.schedules, name))
        if raw is None:
            raise ScheduleNotFound(f"schedule {name!r} not found")
        schedule = _parsed(name, raw)
        if schedule is None:
            raise Conflict(f"schedule {name!r} is unreadable; replace it with PUT")
        now = await self._clock_ms()
        group = _fire_args(schedule, raw, now, "trigger", now, "")
        [(outcome, tid)] = decode_sched_fire(await self.scripts.run("sched_fire", *group)).fired
        if outcome == "no_queue":
            raise InvalidInput(
                f"queue {schedule.task.queue!r} of schedule {name!r} does not exist",
                field="queue",
            )
        if outcome == "changed":
            raise Conflict(f"schedule {name!r} changed while it was triggered; try again")
        return await self._get_task_of_schedule(tid)

    async def _get_task_of_schedule(self, tid: str) -> Task:
        return await self._read_task(tid)

    async def fire_due_schedules(self, limit: int = FIRE_BATCH) -> tuple[int, int]:
        """Fire the due ticks: (ticks handled, ms until the earliest next tick or -1)."""
        now, wait, entries = decode_sched_due(
            await self.scripts.run("sched_due", limit, random.random())
        )
        if not entries:
            return 0, wait
        argv: list[str | int] = []
        for name, tick, raw, last_raw in entries:
            schedule = _parsed(name, raw) if raw else None
            if schedule is None or raw is None:
                argv += _drop_args(name, raw or "", tick)
                continue
            late = now - tick > MISSED_GRACE_MS
            action = "missed" if late and schedule.missed is MissedPolicy.SKIP else "fire"
            nxt = schedule.next_tick(max(tick, now))
            if action == "fire" and schedule.overlap is OverlapPolicy.CANCEL_PREVIOUS:
                await self._cancel_previous(name, tick, last_raw)
            argv += _fire_args(schedule, raw, tick, action, tick, nxt)
        fired = decode_sched_fire(await self.scripts.run("sched_fire", *argv))
        for outcome, tid in fired.fired:
            if outcome in (FireOutcome.FIRED, FireOutcome.NO_QUEUE, FireOutcome.MISSED):
                log.info("schedule tick: %s (task %s)", outcome, tid)
        return len(entries), fired.wait_ms

    async def warm_schedules(self, limit: int = WARM_LIMIT) -> int:
        """Parse the definitions of the next burst of ticks (those due within a second of
        the earliest, at most ``limit``) ahead of their time; returns how many it read.

        A burst of ticks due in the same second would otherwise pay a model validation per
        definition in the firing step itself, after the tick, where it adds to every tick's
        delay. The parses are cached by definition text (``_parsed``, ``_task_content``), so
        warming again costs only the read: O(the burst), which firing it reads anyway.
        """
        k = self.keys
        head = cast(
            list[tuple[str, float]], await self.redis.zrange(k.schedule_next, 0, 0, withscores=True)
        )
        if not head:
            return 0
        first = int(head[0][1])
        names = cast(
            list[str],
            await self.redis.zrangebyscore(
                k.schedule_next, first, first + WARM_SPAN_MS, start=0, num=limit
            ),
        )
        if not names:
            return 0
        raws = cast(list[str | None], await self.redis.hmget(k.schedules, names))
        for name, raw in zip(names, raws, strict=True):
            if raw and _parsed(name, raw) is not None:
                _task_content(name, raw)
        return len(names)

    async def _cancel_previous(self, name: str, tick: int, last_raw: str | None) -> None:
        """Cancel the task of an earlier tick (never this tick's, which another scheduler
        may already have fired); a task already finished is left as it is."""
        try:
            last = json.loads(last_raw) if last_raw else {}
            prev, prev_tick = last.get("task"), int(last.get("tick") or 0)
        except (ValueError, TypeError, AttributeError):
            return
        if isinstance(prev, str) and prev_tick < tick:
            await self.scripts.run("cancel", prev, f"cancelled by schedule {name!r}: next tick")

    async def _put(self, schedule: Schedule, expect: str) -> str:
        """Write ``schedule`` over ``expect`` (see sched_put.lua), checking its queue."""
        if not await self.redis.hexists(self.keys.queues, schedule.task.queue):
            raise InvalidInput(
                f"queue {schedule.task.queue!r} does not exist; create it first (POST /queues)",
                field="queue",
            )
        nxt: int | str = ""
        if schedule.enabled:
            nxt = schedule.next_tick(await self._clock_ms())
        outcome = str(
            await self.scripts.run(
                "sched_put", schedule.name, expect, schedule.model_dump_json(), nxt
            )
        )
        if outcome == "missing":
            raise ScheduleNotFound(f"schedule {schedule.name!r} not found")
        return outcome


@functools.lru_cache(maxsize=4096)
def _parsed(name: str, raw: str) -> Schedule | None:
    """A stored schedule, or None (logged) for a record this version cannot read.

    Cached by its JSON text: a scheduler reads the same definitions tick after tick, and
    a changed definition is a different text. Callers never mutate the result.
    """
    try:
        return Schedule.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("schedule %r is unreadable: %s", name, exc)
        return None


def _view(
    name: str, raw: str, nxt: float | str | None, last_raw: str | None
) -> ScheduleView | None:
    schedule = _parsed(name, raw)
    if schedule is None:
        return None
    last: dict[str, Any] = {}
    if last_raw:
        try:
            loaded = json.loads(last_raw)
            last = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            last = {}
    outcome = last.get("outcome")
    task = last.get("task")
    return ScheduleView(
        **schedule.model_dump(),
        next_fire_at=ms_to_datetime(nxt) if nxt is not None else None,
        last_fire_at=ms_to_datetime(last.get("at")) if isinstance(last.get("at"), int) else None,
        last_tick_at=ms_to_datetime(last.get("tick"))
        if isinstance(last.get("tick"), int)
        else None,
        last_task_id=task if isinstance(task, str) else None,
        last_outcome=FireOutcome(outcome) if outcome in set(FireOutcome) else None,
    )


def _fire_args(
    schedule: Schedule, raw: str, tick: int, action: str, id_tick: int, nxt: int | str
) -> list[str | int]:
    """One tick's group of sched_fire.lua arguments."""
    spec = schedule.task
    params, fingerprint = _task_content(schedule.name, raw)
    # A trigger runs now: jitter spreads ticks, not an operator's request.
    jitter = 0 if action == "trigger" else tick_jitter_ms(schedule.name, id_tick, schedule.jitter)
    return [
        schedule.name,
        raw,
        tick if action != "trigger" else "",
        action,
        schedule.overlap.value,
        tick_task_id(schedule.name, id_tick),
        spec.name,
        spec.version,
        spec.queue,
        fingerprint,
        params,
        id_tick + jitter if jitter else 0,
        nxt,
    ]


@functools.lru_cache(maxsize=4096)
def _task_content(name: str, raw: str) -> tuple[str, str]:
    """(parameters JSON, fingerprint) of a definition's task, computed once per definition:
    a burst of due ticks costs no model validation per tick (the definition is parsed
    once, by ``_parsed``, for both)."""
    schedule = _parsed(name, raw)
    if schedule is None:  # callers pass readable definitions only
        raise ValueError(f"schedule {name!r} is unreadable")
    spec = schedule.task
    task = Task(name=spec.name, version=spec.version, queue=spec.queue, parameters=spec.parameters)
    params = task.params_json()
    return params, task.fingerprint(params)


def _drop_args(name: str, raw: str, tick: int) -> list[str | int]:
    return [name, raw, tick, "drop", "skip", "", "", 0, "", "", "{}", 0, ""]


def checked_schedule_name(name: str) -> str:
    """A schedule name as keys may hold it; InvalidInput otherwise."""
    try:
        return check_name(name)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
