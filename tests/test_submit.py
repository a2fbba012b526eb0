"""Batch submits (all or nothing) and concurrent submits sharing round trips."""

from __future__ import annotations

import asyncio

import pytest
from ulid import ULID

from jobbers.errors import DuplicateTask, InvalidInput
from jobbers.models.queue import QueueConfig
from jobbers.models.task import MAX_SUBMIT_BATCH, Task
from jobbers.store.facade import StateManager


async def keyspace(state: StateManager) -> dict[str, str]:
    """Every key and its type: the whole store, for "nothing changed" checks (small DBs)."""
    keys = await state.redis.keys("*")
    return {str(key): str(await state.redis.type(key)) for key in keys}


async def submit_calls(state: StateManager) -> int:
    stats = await state.redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_a_batch_is_stored_queued_and_counted(state: StateManager) -> None:
    await state.create_queue(QueueConfig(name="mail"))
    tasks = [Task(name="add", parameters={"a": i, "b": 1}) for i in range(5)]
    tasks.append(Task(name="add", queue="mail"))
    results = await state.submit_many(tasks)
    assert [created for _, created in results] == [True] * 6
    assert [stored.id for stored, _ in results] == [task.id for task in tasks]
    assert {stored.status for stored, _ in results} == {"submitted"}
    stats = await state.stats()
    depth = {q.name: q.depth for q in stats.queues}
    assert depth["default"] == 5 and depth["mail"] == 1
    assert stats.statuses["submitted"] == 6
    got = await state.get_task(tasks[3].id)
    assert got.parameters == {"a": 3, "b": 1} and got.status == "submitted"
    # No parameters, no parameters key (a task's smallest footprint); read back as {}.
    assert await state.redis.exists(state.keys.params(str(tasks[5].id))) == 0
    assert (await state.get_task(tasks[5].id)).parameters == {}


async def test_resending_a_batch_stores_nothing_twice(state: StateManager) -> None:
    tasks = [Task(name="add", parameters={"a": i}) for i in range(3)]
    await state.submit_many(tasks)
    again = await state.submit_many([t.model_copy() for t in tasks])
    assert [created for _, created in again] == [False] * 3
    assert all(stored.submitted_at is not None for stored, _ in again)
    assert (await state.stats()).statuses["submitted"] == 3


async def test_a_batch_mixing_new_stored_and_expired_ids(state: StateManager) -> None:
    """The script skips per-task lookups when no id of a batch is known; any known one
    (stored, or expired by retention) must still be found among the new ones."""
    stored = await state.submit_task(Task(name="add", parameters={"a": 1}))
    fresh = [Task(name="add", parameters={"a": i}) for i in range(2, 5)]
    again = Task(id=stored.id, name="add", parameters={"a": 1})
    results = await state.submit_many([fresh[0], again, fresh[1]])
    assert [created for _, created in results] == [True, False, True]
    assert results[1][0].submitted_at == stored.submitted_at
    # Retention leaves a marker with the fingerprint of a deleted task's id.
    gone = Task(name="add", parameters={"a": 7})
    await state.redis.set(f"{state.keys.prefix}seen:{gone.id}", gone.fingerprint(), ex=60)
    before = await keyspace(state)
    with pytest.raises(DuplicateTask, match="deleted by retention"):
        await state.submit_many([fresh[2], gone])
    assert await keyspace(state) == before
    assert (await state.stats()).statuses["submitted"] == 3


async def test_one_conflict_rejects_the_whole_batch(state: StateManager) -> None:
    first = await state.submit_task(Task(name="add", parameters={"a": 1}))
    before = await keyspace(state)
    batch = [
        Task(name="add", parameters={"a": 2}),
        Task(id=first.id, name="add", parameters={"a": 99}),
        Task(name="add", parameters={"a": 3}),
    ]
    with pytest.raises(DuplicateTask, match="Nothing from this batch was stored"):
        await state.submit_many(batch)
    assert await keyspace(state) == before


async def test_an_unknown_queue_rejects_the_whole_batch(state: StateManager) -> None:
    before = await keyspace(state)
    batch = [Task(name="add"), Task(name="add", queue="nowhere")]
    with pytest.raises(InvalidInput, match="'nowhere' does not exist"):
        await state.submit_many(batch)
    assert await keyspace(state) == before


async def test_bad_batches_are_refused_before_redis(state: StateManager) -> None:
    before = await keyspace(state)
    same = ULID()
    with pytest.raises(InvalidInput, match="twice"):
        await state.submit_many([Task(id=same, name="add"), Task(id=same, name="add")])
    with pytest.raises(InvalidInput, match=f"at most {MAX_SUBMIT_BATCH}"):
        await state.submit_many([Task(name="add") for _ in range(MAX_SUBMIT_BATCH + 1)])
    huge = Task(name="add", parameters={"blob": "x" * (600 * 1024)})
    with pytest.raises(InvalidInput, match="larger than"):
        await state.submit_many([Task(name="add"), huge])
    assert await keyspace(state) == before
    assert await state.submit_many([]) == []


async def test_concurrent_submits_share_round_trips(state: StateManager) -> None:
    calls = await submit_calls(state)
    tasks = [Task(name="add", parameters={"a": i}) for i in range(300)]
    results = await asyncio.gather(*(state.submit(task) for task in tasks))
    assert all(created for _, created in results)
    assert (await state.stats()).statuses["submitted"] == 300
    # One call per task would be 300; callers that arrive together travel together.
    assert await submit_calls(state) - calls < 100


async def test_one_callers_conflict_never_fails_the_others(state: StateManager) -> None:
    taken = await state.submit_task(Task(name="add", parameters={"a": 0}))
    others = [Task(name="add", parameters={"a": i}) for i in range(1, 40)]
    clash = Task(id=taken.id, name="add", parameters={"a": -1})
    nowhere = Task(name="add", queue="nowhere")
    results = await asyncio.gather(
        *(state.submit(task) for task in [*others[:20], clash, nowhere, *others[20:]]),
        return_exceptions=True,
    )
    assert isinstance(results[20], DuplicateTask)
    assert isinstance(results[21], InvalidInput)
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert len(ok) == 39 and all(created for _, created in ok)
    assert (await state.get_task(taken.id)).parameters == {"a": 0}
    assert (await state.stats()).statuses["submitted"] == 40


async def test_fifty_concurrent_submits_of_one_id_store_one_task(state: StateManager) -> None:
    task = Task(name="add", parameters={"a": 1})
    results = await asyncio.gather(*(state.submit(task.model_copy()) for _ in range(50)))
    assert sum(created for _, created in results) == 1
    assert {str(stored.id) for stored, _ in results} == {str(task.id)}
    stats = await state.stats()
    assert stats.statuses["submitted"] == 1
    assert next(q for q in stats.queues if q.name == "default").depth == 1


async def test_minute_counters_expire_on_their_own(state: StateManager) -> None:
    await state.submit_many([Task(name="add") for _ in range(3)])
    await state.submit_task(Task(name="add"))
    keys = await state.redis.keys(f"{state.keys.prefix}m:default:*")
    assert keys, "the submits were counted"
    for key in keys:
        assert 0 < await state.redis.ttl(key) <= 7200
        assert await state.redis.hget(key, "submitted") == "4"
