"""Delayed submit (issue 15 §1): ``run_at`` / ``delay`` keep a task ``scheduled`` until due."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from jobbers.dev.redis_server import RedisServer, free_port
from jobbers.errors import DuplicateTask, InvalidInput
from jobbers.models.task import Task, TaskStatus
from jobbers.runtime.scheduler import Scheduler
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status


async def redis_now(state: StateManager) -> dt.datetime:
    sec, usec = await state.redis.time()
    return dt.datetime.fromtimestamp(int(sec) + int(usec) / 1e6, dt.UTC)


async def blocked_on_bell(state: StateManager) -> bool:
    clients = await state.redis.client_list()
    return any(c.get("cmd") == "bzpopmin" for c in clients)


async def test_a_delayed_task_waits_scheduled_then_is_submitted(state: StateManager) -> None:
    stored, created = await state.submit(Task(name="add"), delay=0.4)
    assert created and stored.status == TaskStatus.SCHEDULED
    assert stored.scheduled_for is not None and stored.submitted_at is not None
    assert 390 <= (stored.scheduled_for - stored.submitted_at).total_seconds() * 1000 <= 410
    got = await state.get_task(stored.id)
    assert got.status == TaskStatus.SCHEDULED and got.scheduled_for == stored.scheduled_for
    page = await state.scheduled_tasks()
    assert [t.id for t in page.items] == [stored.id]
    # Not due yet: the scheduler leaves it, and says how long until it is.
    wait = await Scheduler(state).step()
    assert 0 < wait <= 0.41

    async def promoted() -> Task | None:
        await Scheduler(state).step()
        found = await state.get_task(stored.id)
        return found if found.status == TaskStatus.SUBMITTED else None

    got = await eventually(promoted, within=3, what="promotion")
    assert got.status == TaskStatus.SUBMITTED and got.scheduled_for is None
    assert (await state.scheduled_tasks()).items == []


async def test_a_delayed_task_runs_at_its_time(state: StateManager, start_worker: Any) -> None:
    await start_worker()
    scheduler = Scheduler(state)
    runner = asyncio.create_task(scheduler.run())
    try:
        at = await redis_now(state) + dt.timedelta(seconds=0.6)
        stored = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 2}, run_at=at))
        assert stored.status == TaskStatus.SCHEDULED
        done = await wait_status(state, stored.id, "completed", within=10)
        assert done.started_at is not None and done.started_at >= at - dt.timedelta(milliseconds=1)
    finally:
        scheduler.stop()
        await runner


async def test_an_earlier_due_time_wakes_a_sleeping_scheduler(state: StateManager) -> None:
    """A scheduler asleep until a due time 4 s away is woken by a submit due sooner."""
    await state.submit(Task(name="add"), delay=4)
    scheduler = Scheduler(state)
    runner = asyncio.create_task(scheduler.run())
    try:
        await eventually(lambda: blocked_on_bell(state), within=3, what="scheduler asleep")
        soon = (await state.submit(Task(name="add"), delay=0.2))[0]
        got = await wait_status(state, soon.id, "submitted", within=2)
        assert got.status == TaskStatus.SUBMITTED
    finally:
        scheduler.stop()
        await runner


async def test_run_at_in_the_past_runs_now(state: StateManager) -> None:
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    stored, created = await state.submit(Task(name="add"), run_at=past)
    assert created and stored.status == TaskStatus.SUBMITTED
    assert (await state.scheduled_tasks()).items == []


async def test_the_time_is_part_of_the_idempotent_body(state: StateManager) -> None:
    task = Task(name="add", delay=60)
    first, created = await state.submit(task)
    again, created_again = await state.submit(task.model_copy())
    assert created and not created_again
    assert again.status == TaskStatus.SCHEDULED and again.id == first.id
    with pytest.raises(DuplicateTask):
        await state.submit(task.model_copy(update={"delay": 61}))
    with pytest.raises(DuplicateTask):
        await state.submit(task.model_copy(update={"delay": None}))
    # A task submitted to run now keeps its digest: resubmitting it plain is a repeat.
    plain = Task(name="add")
    await state.submit(plain)
    assert (await state.submit(plain.model_copy()))[1] is False


async def test_a_delayed_task_can_be_cancelled(state: StateManager) -> None:
    stored, _ = await state.submit(Task(name="add"), delay=30)
    assert await state.cancel_task(stored.id) == "cancelled"
    assert (await state.get_task(stored.id)).status == TaskStatus.CANCELLED
    assert (await state.scheduled_tasks()).items == []


async def test_bad_times_are_refused_and_store_nothing(state: StateManager) -> None:
    far = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    with pytest.raises(InvalidInput, match="year"):
        await state.submit_many([Task(name="add"), Task(name="add", run_at=far)])
    naive = dt.datetime(2030, 1, 1)
    with pytest.raises(InvalidInput, match="timezone"):
        await state.submit_many([Task(name="add", run_at=naive)])
    assert (await state.stats()).statuses.get("submitted", 0) == 0
    assert (await state.stats()).statuses.get("scheduled", 0) == 0


async def test_a_batch_mixes_delayed_and_immediate_tasks(state: StateManager) -> None:
    tasks = [Task(name="add"), Task(name="add", delay=30), Task(name="add")]
    results = await state.submit_many(tasks)
    assert [s.status for s, _ in results] == ["submitted", "scheduled", "submitted"]
    stats = await state.stats()
    assert stats.statuses["scheduled"] == 1
    assert {q.name: q.depth for q in stats.queues}["default"] == 2


async def test_the_scheduler_promotes_on_time_on_an_idle_redis(own_state: StateManager) -> None:
    """Redis ends a blocking timeout only on its own timer tick (100 ms at the default hz)
    when nothing else happens; the scheduler must still promote a task at its due time."""
    scheduler = Scheduler(own_state)
    runner = asyncio.create_task(scheduler.run())
    lateness = []
    try:
        await eventually(lambda: blocked_on_bell(own_state), within=3, what="scheduler asleep")
        for delay in (0.31, 0.27, 0.33, 0.29, 0.35):
            stored, _ = await own_state.submit(Task(name="add"), delay=delay)
            assert stored.scheduled_for is not None
            # Nothing touches Redis until the task is due: the server is idle meanwhile.
            tid = str(stored.id)
            got = await eventually(
                lambda: promoted_at(own_state, tid),  # noqa: B023 - awaited in this turn
                within=5,
                interval=delay + 0.2,
            )
            lateness.append(got - stored.scheduled_for.timestamp() * 1000)
    finally:
        scheduler.stop()
        await runner
    assert max(lateness) < 40, lateness


async def promoted_at(state: StateManager, tid: str) -> float | None:
    score = await state.redis.zscore(state.keys.status_index(TaskStatus.SUBMITTED), tid)
    return None if score is None else float(score)


@pytest.fixture
async def own_state(tmp_path: Path) -> AsyncIterator[StateManager]:
    """A Redis of this test's own: no other test's clients keep its event loop busy."""
    server = RedisServer(free_port(), tmp_path / "redis", appendonly=False).start()
    state = StateManager.from_url(server.url)
    await state.ensure_defaults()
    yield state
    await state.close()
    server.stop(kill=True)
