"""Schedules (issue 15 §2): cron and interval rules that fire each tick exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from jobbers.dev.redis_server import RedisServer
from jobbers.errors import AlreadyExists, InvalidInput, ScheduleNotFound
from jobbers.models.queue import QueueConfig
from jobbers.models.schedule import MISSED_GRACE_MS, Schedule, ScheduleSpec, tick_task_id
from jobbers.models.task import TaskStatus
from jobbers.runtime.scheduler import Scheduler
from jobbers.store import schedules as schedule_state
from jobbers.store.facade import StateManager
from jobbers.store.schedules import FIRE_BATCH
from tests.conftest import eventually, spawn


def sched(name: str = "nightly", **fields: Any) -> Schedule:
    fields.setdefault("task", {"name": "add", "parameters": {"a": 1, "b": 2}})
    if "cron" not in fields and "every" not in fields:
        fields["every"] = 3600
    return Schedule.model_validate({"name": name, **fields})


async def now_ms(state: StateManager) -> int:
    sec, usec = await state.redis.time()
    return int(sec) * 1000 + int(usec) // 1000


async def make_due(state: StateManager, name: str, ago_ms: int = 5) -> int:
    """Put the schedule's next tick ``ago_ms`` in the past; returns that tick."""
    tick = await now_ms(state) - ago_ms
    await state.redis.zadd(state.keys.schedule_next, {name: tick})
    return tick


async def fired_tasks(state: StateManager) -> list[str]:
    return cast(list[str], await state.redis.zrange(state.keys.all_index(), 0, -1))


# ------------------------------------------------------------------ the resource


async def test_create_get_list_show_the_next_fire(state: StateManager) -> None:
    view = await state.create_schedule(sched(every=3600))
    now = await now_ms(state)
    assert view.next_fire_at is not None
    next_ms = int(view.next_fire_at.timestamp() * 1000)
    assert next_ms % 3_600_000 == 0 and now < next_ms <= now + 3_600_000
    assert view.last_fire_at is None and view.last_task_id is None
    assert (await state.get_schedule("nightly")) == view
    assert [s.name for s in await state.list_schedules()] == ["nightly"]
    with pytest.raises(AlreadyExists):
        await state.create_schedule(sched(every=60))
    with pytest.raises(ScheduleNotFound):
        await state.get_schedule("nope")


async def test_cron_in_a_timezone(state: StateManager) -> None:
    view = await state.create_schedule(sched(cron="0 3 * * *", timezone="Europe/Paris"))
    assert view.next_fire_at is not None
    local = view.next_fire_at.astimezone(ZoneInfo("Europe/Paris"))
    assert (local.hour, local.minute, local.second) == (3, 0, 0)


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * *"}, "cron"),
        ({"every": 60, "timezone": "Mars/Olympus"}, "timezone"),
        ({"every": 60, "cron": "* * * * *"}, "cron or every"),
        ({"every": 0}, "every"),
        ({"every": 60, "overlap": "maybe"}, "overlap"),
    ],
)
def test_bad_definitions_name_the_field(fields: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError, match=where):
        sched(**fields)


async def test_an_unknown_queue_is_refused_and_nothing_stored(state: StateManager) -> None:
    with pytest.raises(InvalidInput, match="queue") as err:
        await state.create_schedule(sched(task={"name": "add", "queue": "ghost"}))
    assert err.value.field == "queue"
    assert await state.list_schedules() == []
    assert await state.redis.exists(state.keys.schedule_next) == 0


async def test_put_pause_resume_delete(state: StateManager) -> None:
    _, created = await state.put_schedule(sched(every=60))
    assert created
    view, created = await state.put_schedule(sched(every=120, overlap="allow"))
    assert not created and view.every == 120 and view.overlap == "allow"
    paused = await state.set_schedule_enabled("nightly", False)
    assert not paused.enabled and paused.next_fire_at is None
    assert await state.redis.zcard(state.keys.schedule_next) == 0
    resumed = await state.set_schedule_enabled("nightly", True)
    assert resumed.enabled and resumed.next_fire_at is not None
    await state.delete_schedule("nightly")
    assert await state.list_schedules() == []
    assert await state.redis.zcard(state.keys.schedule_next) == 0
    with pytest.raises(ScheduleNotFound):
        await state.delete_schedule("nightly")


async def test_an_unreadable_record_neither_breaks_reads_nor_spins(state: StateManager) -> None:
    await state.create_schedule(sched("good"))
    await state.redis.hset(state.keys.schedules, "bad", "{not json")
    await state.redis.zadd(state.keys.schedule_next, {"bad": 1})
    assert [s.name for s in await state.list_schedules()] == ["good"]
    handled, _ = await state.fire_due_schedules()
    assert handled == 1
    assert await state.redis.zscore(state.keys.schedule_next, "bad") is None
    assert await fired_tasks(state) == []


# ------------------------------------------------------------------ firing


async def test_a_due_tick_fires_one_task_with_the_derived_id(state: StateManager) -> None:
    await state.create_schedule(sched())
    tick = await make_due(state, "nightly")
    handled, wait = await state.fire_due_schedules()
    assert handled == 1 and wait > 0
    tid = tick_task_id("nightly", tick)
    assert await fired_tasks(state) == [tid]
    task = await state.get_task(tid)
    assert task.status == TaskStatus.SUBMITTED and task.parameters == {"a": 1, "b": 2}
    view = await state.get_schedule("nightly")
    assert view.last_task_id == tid and view.last_outcome == "fired"
    assert view.last_tick_at is not None
    assert int(view.last_tick_at.timestamp() * 1000) == tick
    assert view.next_fire_at is not None and view.last_fire_at is not None
    assert view.next_fire_at > view.last_fire_at


async def test_a_batch_of_ticks_makes_tasks_listed_claimable_and_announced(
    state: StateManager,
) -> None:
    """One sched_fire call writes a whole batch's index entries, waiting lists, events and
    counts per queue: every task must still be where a fired task one by one would be."""
    names = ["a", "b", "c"]
    for name in names:
        await state.create_schedule(sched(name))
    ticks = {name: await make_due(state, name) for name in names}
    handled, _ = await state.fire_due_schedules()
    assert handled == 3
    ids = {tick_task_id(name, tick) for name, tick in ticks.items()}
    page = await state.list_tasks(status=TaskStatus.SUBMITTED, queue="default", name="add")
    assert {str(t.id) for t in page.items} == ids
    k = state.keys
    for key in (
        k.status_index(TaskStatus.SUBMITTED),
        k.status_index(TaskStatus.SUBMITTED, "default"),
        k.status_name_index(TaskStatus.SUBMITTED, "add"),
    ):
        assert set(cast(list[str], await state.redis.zrange(key, 0, -1))) == ids, key
    _, events = await state.read_events("0", 0)
    fresh = [e for e in events if str(e.task_id) in ids]
    assert len(fresh) == 3
    assert all(e.from_status is None and e.status == TaskStatus.SUBMITTED for e in fresh)
    assert all(e.name == "add" and e.queue == "default" for e in fresh)
    await state.register_worker("w-batch", 30_000, {})
    res = await state.claim("w-batch", "default", 10, {"add@1": (0, 0, -1)})
    assert res.status == "ok" and {str(t.id) for t in res.tasks} == ids


async def test_two_schedulers_racing_on_the_same_tick_fire_once(clean_redis: str) -> None:
    """Several schedulers read the same due ticks and fire them at the same moment."""
    states = [StateManager.from_url(clean_redis) for _ in range(3)]
    try:
        await states[0].ensure_defaults()
        names = [f"s{i}" for i in range(50)]
        for name in names:
            await states[0].create_schedule(sched(name, overlap="allow"))
        for _round in range(3):
            ticks = {name: await make_due(states[0], name, ago_ms=10 + _round) for name in names}
            await asyncio.gather(*(Scheduler(s).step() for s in states))
            for name, tick in ticks.items():
                assert await states[0].redis.exists(states[0].keys.task(tick_task_id(name, tick)))
        assert len(await fired_tasks(states[0])) == 3 * len(names)
    finally:
        for s in states:
            await s.close()


async def test_a_replayed_tick_makes_no_second_task(state: StateManager) -> None:
    """By construction: even if sched:next is put back to a fired tick (an older copy of
    the data, a scheduler that lost its reply), the derived id finds the task."""
    await state.create_schedule(sched(overlap="allow"))
    tick = await make_due(state, "nightly")
    await state.fire_due_schedules()
    await state.redis.zadd(state.keys.schedule_next, {"nightly": tick})
    await state.fire_due_schedules()
    assert await fired_tasks(state) == [tick_task_id("nightly", tick)]
    assert (await state.get_schedule("nightly")).last_outcome == "exists"


async def test_overlap_skip_waits_for_the_last_task(state: StateManager) -> None:
    await state.create_schedule(sched())
    await make_due(state, "nightly")
    await state.fire_due_schedules()
    first = await fired_tasks(state)
    await make_due(state, "nightly", ago_ms=1)
    await state.fire_due_schedules()
    assert await fired_tasks(state) == first
    assert (await state.get_schedule("nightly")).last_outcome == "skipped_overlap"
    await state.cancel_task(first[0])  # terminal now: the next tick fires
    await make_due(state, "nightly", ago_ms=0)
    await state.fire_due_schedules()
    assert len(await fired_tasks(state)) == 2


async def test_overlap_allow_and_cancel_previous(state: StateManager) -> None:
    await state.create_schedule(sched("a", overlap="allow"))
    await state.create_schedule(sched("c", overlap="cancel_previous"))
    for ago in (5, 1):
        await make_due(state, "a", ago)
        await make_due(state, "c", ago)
        await state.fire_due_schedules()
    tasks = await state.get_tasks(await fired_tasks(state))
    by_status = sorted(t.status for t in tasks)
    # a: two waiting; c: the first cancelled, the second waiting.
    assert by_status == ["cancelled", "submitted", "submitted", "submitted"]


async def test_missed_ticks_skip_or_run_once(state: StateManager) -> None:
    await state.create_schedule(sched("skipper"))
    await state.create_schedule(sched("runner", missed="run_once"))
    await make_due(state, "skipper", MISSED_GRACE_MS + 5000)
    old = await make_due(state, "runner", MISSED_GRACE_MS + 5000)
    await state.fire_due_schedules()
    assert await fired_tasks(state) == [tick_task_id("runner", old)]
    skipper = await state.get_schedule("skipper")
    assert skipper.last_outcome == "missed" and skipper.last_task_id is None
    now = await now_ms(state)
    for view in await state.list_schedules():
        assert view.next_fire_at is not None
        assert int(view.next_fire_at.timestamp() * 1000) > now


async def test_a_paused_schedule_does_not_fire_and_trigger_runs_now(state: StateManager) -> None:
    await state.create_schedule(sched(jitter=600))  # a trigger is not jittered
    await state.set_schedule_enabled("nightly", False)
    assert await state.fire_due_schedules() == (0, -1)
    task = await state.trigger_schedule("nightly")
    assert task.status == TaskStatus.SUBMITTED
    view = await state.get_schedule("nightly")
    assert view.last_task_id == str(task.id) and view.last_outcome == "triggered"
    assert view.next_fire_at is None  # still paused
    with pytest.raises(ScheduleNotFound):
        await state.trigger_schedule("ghost")


async def test_jitter_delays_the_task_a_fixed_amount(state: StateManager) -> None:
    await state.create_schedule(sched(jitter=30))
    tick = await make_due(state, "nightly")
    await state.fire_due_schedules()
    task = await state.get_task(tick_task_id("nightly", tick))
    assert task.status in (TaskStatus.SCHEDULED, TaskStatus.SUBMITTED)
    if task.status == TaskStatus.SCHEDULED:
        assert task.scheduled_for is not None
        delay = task.scheduled_for.timestamp() * 1000 - tick
        assert 0 < delay <= 30_000


async def test_a_deleted_queue_skips_the_tick_and_says_so(state: StateManager) -> None:
    await state.create_queue(QueueConfig(name="gone"))
    await state.create_schedule(sched(task={"name": "add", "queue": "gone"}))
    await state.delete_queue("gone")
    await make_due(state, "nightly")
    await state.fire_due_schedules()
    assert await fired_tasks(state) == []
    assert (await state.get_schedule("nightly")).last_outcome == "no_queue"


# ------------------------------------------------------------------ DST and ticks


def _local_ticks(spec: ScheduleSpec, start: dt.datetime, n: int) -> list[str]:
    t = int(start.timestamp() * 1000)
    out = []
    for _ in range(n):
        t = spec.next_tick(t)
        out.append(dt.datetime.fromtimestamp(t / 1000, ZoneInfo(spec.timezone)).isoformat())
    return out


def test_dst_gap_fires_at_the_first_time_that_exists() -> None:
    paris = ZoneInfo("Europe/Paris")
    spec = sched(cron="30 2 * * *", timezone="Europe/Paris")
    ticks = _local_ticks(spec, dt.datetime(2026, 3, 28, 12, tzinfo=paris), 2)
    assert ticks == ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]


def test_dst_overlap_fires_a_fixed_time_once_and_wildcards_in_both_passes() -> None:
    paris = ZoneInfo("Europe/Paris")
    daily = sched(cron="30 2 * * *", timezone="Europe/Paris")
    assert _local_ticks(daily, dt.datetime(2026, 10, 24, 12, tzinfo=paris), 2) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]
    half = sched(cron="*/30 * * * *", timezone="Europe/Paris")
    assert _local_ticks(half, dt.datetime(2026, 10, 25, 1, 50, tzinfo=paris), 4) == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
    ]


# ------------------------------------------------------------------ the scheduler process


async def blocked_on_bell(state: StateManager) -> bool:
    return any(c.get("cmd") == "bzpopmin" for c in await state.redis.client_list())


async def test_a_new_schedule_wakes_a_sleeping_scheduler(state: StateManager) -> None:
    scheduler = Scheduler(state)
    runner = asyncio.create_task(scheduler.run())
    try:
        await eventually(lambda: blocked_on_bell(state), within=3, what="scheduler asleep")
        await state.create_schedule(sched(cron="* * * * * *", overlap="allow"))
        # Asleep for up to 5 s with nothing due: only the doorbell gets a tick fired sooner.
        await eventually(lambda: fired_tasks(state), within=2.5, what="first fire")
    finally:
        scheduler.stop()
        await runner


async def test_a_burst_beyond_one_batch_wakes_another_scheduler(state: StateManager) -> None:
    """More ticks due than one sched_fire batch: the scheduler firing them rings the
    doorbell, so a sleeping scheduler fires beside it instead of waiting out its sleep."""
    names = [f"s{i:03d}" for i in range(FIRE_BATCH + 1)]
    for name in names:
        await state.create_schedule(sched(name, overlap="allow"))
    tick = await now_ms(state) - 5
    await state.redis.zadd(state.keys.schedule_next, dict.fromkeys(names, tick))
    await state.redis.delete(state.keys.sched_bell)  # the creations rang it
    await Scheduler(state).step()
    assert len(await fired_tasks(state)) == FIRE_BATCH + 1
    assert await state.redis.zscore(state.keys.sched_bell, "r") is not None


async def test_a_coming_tick_has_its_definitions_parsed_ahead(state: StateManager) -> None:
    """A burst due in a second is parsed while the scheduler waits for it, not after the
    tick, where its parsing would delay every task of the burst."""
    names = ["a", "b", "c"]
    for name in names:
        await state.create_schedule(sched(name))
    tick = await now_ms(state) + 2000
    await state.redis.zadd(state.keys.schedule_next, dict.fromkeys(names, tick))
    schedule_state._parsed.cache_clear()
    schedule_state._task_content.cache_clear()
    wait = await Scheduler(state).step()
    assert 0 < wait <= 2.0
    assert schedule_state._task_content.cache_info().currsize == len(names)
    assert await fired_tasks(state) == []


async def test_a_coming_burst_beyond_one_batch_wakes_a_peer_to_parse_it(
    state: StateManager,
) -> None:
    """Peers fire a big burst beside the scheduler that wakes for it, so they must have
    parsed it too: the warming scheduler rings the doorbell; a small burst rings nobody."""
    names = [f"s{i:03d}" for i in range(FIRE_BATCH + 1)]
    for name in names:
        await state.create_schedule(sched(name))
    tick = await now_ms(state) + 2000
    await state.redis.zadd(state.keys.schedule_next, {names[0]: tick})
    await state.redis.delete(state.keys.sched_bell)  # the creations rang it
    await Scheduler(state).step()
    assert await state.redis.zscore(state.keys.sched_bell, "r") is None
    await state.redis.zadd(state.keys.schedule_next, dict.fromkeys(names, tick))
    await Scheduler(state).step()
    assert await state.redis.zscore(state.keys.sched_bell, "r") is not None
    assert await fired_tasks(state) == []


async def test_ticks_fire_once_across_a_redis_restart(
    own_redis: tuple[RedisServer, StateManager], tmp_path: Path
) -> None:
    """Two scheduler processes, Redis killed (AOF replays) between ticks: the schedule and
    its state survive, firing goes on, and no tick ever has two tasks."""
    server, state = own_redis
    await state.create_schedule(sched(cron="* * * * * *", overlap="allow"))
    log = tmp_path / "sched.log"
    procs = [spawn(["-m", "jobbers.runtime.scheduler"], server.url, log=log) for _ in range(2)]
    try:
        await eventually(
            lambda: _count_at_least(state, 2), within=10, what="fires before the restart"
        )
        server.stop(kill=True)
        server.start()
        before = len(await fired_tasks(state))
        await eventually(
            lambda: _count_at_least(state, before + 2), within=20, what="fires after the restart"
        )
        assert all(p.poll() is None for p in procs)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    ids = await fired_tasks(state)
    ticks = [int(tid_ms(tid)) for tid in ids]
    assert len(set(ticks)) == len(ticks)  # one task per tick
    assert all(tid == tick_task_id("nightly", t) for tid, t in zip(ids, ticks, strict=True))
    assert all(t % 1000 == 0 for t in ticks)


def tid_ms(tid: str) -> int:
    from ulid import ULID

    return int(ULID.from_str(tid).milliseconds)


async def _count_at_least(state: StateManager, n: int) -> bool:
    try:
        return len(await fired_tasks(state)) >= n
    except Exception:
        return False
