"""StateManager against a real Redis: submit, idempotency, listings, queues, roles, cancel."""

from __future__ import annotations

import pytest
from ulid import ULID

from jobbers.errors import (
    AlreadyExists,
    Conflict,
    DuplicateTask,
    InvalidTransition,
    QueueNotFound,
    RoleNotFound,
    TaskNotFound,
)
from jobbers.models.queue import QueueConfig, RatePeriod, Role
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import InvalidInput, StateManager
from jobbers.store.protocol import ClaimSpec, StopReason, TaskBeatReply


async def test_defaults_exist_out_of_the_box(state: StateManager) -> None:
    assert [q.name for q in await state.list_queues()] == ["default"]
    assert await state.get_role("default") == Role(name="default", queues=["default"])


async def waiting_ids(state: StateManager, queue: str = "default") -> list[str]:
    """The ids waiting on ``queue``, as the listing and the queue's depth both show them."""
    page = await state.list_tasks(TaskStatus.SUBMITTED, queue, limit=1000)
    depth = {q.name: q.depth for q in (await state.stats()).queues}[queue]
    ids = [str(t.id) for t in page.items]
    assert depth == len(ids)
    return ids


async def test_submit_stores_and_enqueues(state: StateManager) -> None:
    task = Task(name="add", version=1, parameters={"a": 1, "b": 2})
    stored = await state.submit_task(task)
    assert stored.id == task.id
    assert stored.status is TaskStatus.SUBMITTED
    assert stored.parameters == {"a": 1, "b": 2}
    assert stored.submitted_at is not None
    assert await waiting_ids(state) == [str(task.id)]


async def test_submit_is_idempotent_on_the_id(state: StateManager) -> None:
    task = Task(name="add", parameters={"a": 1, "b": 2})
    first, created = await state.submit(task)
    again, created_again = await state.submit(
        Task(id=task.id, name="add", parameters={"b": 2, "a": 1})
    )
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert len(await waiting_ids(state)) == 1


async def test_same_id_other_content_is_a_conflict_that_changes_nothing(
    state: StateManager,
) -> None:
    task = Task(name="add", parameters={"a": 1, "b": 2})
    await state.submit(task)
    before = await state.get_task(task.id)
    with pytest.raises(DuplicateTask, match=str(task.id)):
        await state.submit(Task(id=task.id, name="add", parameters={"a": 5, "b": 2}))
    assert await state.get_task(task.id) == before
    assert len(await waiting_ids(state)) == 1


async def test_unknown_queue_is_rejected_naming_it_and_stores_nothing(state: StateManager) -> None:
    keys_before = await state.redis.dbsize()
    with pytest.raises(InvalidInput, match="'reprots'"):
        await state.submit(Task(name="add", queue="reprots"))
    assert await state.redis.dbsize() == keys_before


async def test_oversized_parameters_are_rejected(state: StateManager) -> None:
    with pytest.raises(InvalidInput, match="larger than"):
        await state.submit(Task(name="add", parameters={"blob": "x" * 600_000}))
    assert (await state.stats()).statuses["submitted"] == 0


@pytest.mark.parametrize("name", ["a:b", "a b", "../x", "", "x" * 65, "q*"])
def test_queue_names_are_validated(name: str) -> None:
    with pytest.raises(ValueError):
        QueueConfig(name=name)


async def test_get_unknown_task(state: StateManager) -> None:
    with pytest.raises(TaskNotFound):
        await state.get_task(ULID())


async def test_list_by_status_and_queue_pages_with_a_cursor(state: StateManager) -> None:
    await state.create_queue(QueueConfig(name="other"))
    ids = [str((await state.submit_task(Task(name="add"))).id) for _ in range(5)]
    await state.submit_task(Task(name="add", queue="other"))
    page1 = await state.list_tasks(TaskStatus.SUBMITTED, "default", limit=2)
    page2 = await state.list_tasks(
        TaskStatus.SUBMITTED, "default", limit=2, cursor=page1.next_cursor
    )
    page3 = await state.list_tasks(
        TaskStatus.SUBMITTED, "default", limit=2, cursor=page2.next_cursor
    )
    seen = [str(t.id) for t in page1.items + page2.items + page3.items]
    assert seen == ids  # oldest first, no duplicates, none missing
    assert page3.next_cursor is None
    assert len((await state.list_tasks(TaskStatus.SUBMITTED)).items) == 6
    assert len((await state.list_tasks(queue="other")).items) == 1
    assert (await state.list_tasks(TaskStatus.COMPLETED)).items == []
    with pytest.raises(QueueNotFound):
        await state.list_tasks(queue="nope")
    with pytest.raises(InvalidInput):
        await state.list_tasks(cursor="garbage!")


async def test_cancel_submitted_task_removes_it_from_the_queue(state: StateManager) -> None:
    task = await state.submit_task(Task(name="add"))
    assert await state.cancel_task(task.id) == "cancelled"
    cancelled = await state.get_task(task.id)
    assert cancelled.status is TaskStatus.CANCELLED
    assert cancelled.errors[-1].kind == "cancelled"
    assert await waiting_ids(state) == []
    with pytest.raises(InvalidTransition, match="cancelled"):
        await state.cancel_task(task.id)


async def test_bulk_cancel_reports_each_id(state: StateManager) -> None:
    task = await state.submit_task(Task(name="add"))
    done = await state.submit_task(Task(name="add"))
    await state.cancel_task(done.id)
    missing = str(ULID())
    outcomes = await state.cancel_tasks([str(task.id), missing, str(done.id)])
    assert outcomes[str(task.id)] == "cancelled"
    assert outcomes[missing] == "not_found"
    assert outcomes[str(done.id)].startswith("conflict")


async def test_queue_crud(state: StateManager) -> None:
    cfg = QueueConfig(
        name="reports",
        max_concurrent=5,
        rate_numerator=100,
        rate_denominator=1,
        rate_period=RatePeriod.HOUR,
    )
    assert await state.create_queue(cfg) == cfg
    with pytest.raises(AlreadyExists):
        await state.create_queue(cfg)
    assert await state.get_queue("reports") == cfg
    await state.set_queue_paused("reports", True)
    updated, created = await state.put_queue(QueueConfig(name="reports", max_concurrent=2))
    assert not created
    assert updated.paused  # a limits update keeps the paused state
    assert (await state.get_queue("reports")).max_concurrent == 2
    await state.delete_queue("reports")
    with pytest.raises(QueueNotFound):
        await state.get_queue("reports")


async def test_rate_limit_fields_must_be_complete() -> None:
    with pytest.raises(ValueError, match="rate_period"):
        QueueConfig(name="q", rate_numerator=5)


async def test_delete_queue_with_waiting_tasks_is_a_conflict(state: StateManager) -> None:
    await state.create_queue(QueueConfig(name="busy"))
    await state.put_role(Role(name="r", queues=["default", "busy"]))
    await state.submit_task(Task(name="add", queue="busy"))
    with pytest.raises(Conflict, match="1 waiting"):
        await state.delete_queue("busy")
    assert await state.purge_queue("busy") == 1
    await state.delete_queue("busy")
    assert (await state.get_role("r")).queues == ["default"]


async def test_purge_cancels_visibly(state: StateManager) -> None:
    ids = [(await state.submit_task(Task(name="add"))).id for _ in range(3)]
    assert await state.purge_queue("default") == 3
    for tid in ids:
        task = await state.get_task(tid)
        assert task.status is TaskStatus.CANCELLED
        assert "purged" in (task.last_error or "")
    stats = await state.stats()
    assert stats.queues[0].depth == 0
    assert stats.statuses["cancelled"] == 3


async def test_role_crud_checks_queues(state: StateManager) -> None:
    with pytest.raises(InvalidInput, match="ghost"):
        await state.create_role(Role(name="r", queues=["ghost"]))
    await state.create_role(Role(name="r", queues=["default"]))
    with pytest.raises(AlreadyExists):
        await state.create_role(Role(name="r", queues=["default"]))
    await state.put_role(Role(name="r", queues=[]))
    assert (await state.get_role("r")).queues == []
    await state.delete_role("r")
    with pytest.raises(RoleNotFound):
        await state.delete_role("r")


async def test_config_changes_bump_the_version(state: StateManager) -> None:
    before = await state.config_version()
    await state.create_queue(QueueConfig(name="v"))
    assert await state.config_version() > before


async def test_stats_counts_match_indexes(state: StateManager) -> None:
    for _ in range(4):
        await state.submit_task(Task(name="add"))
    stats = await state.stats()
    assert stats.statuses["submitted"] == 4
    assert stats.queues[0].name == "default"
    assert stats.queues[0].depth == 4
    assert stats.workers == 0
    assert stats.dlq == 0


@pytest.mark.parametrize("bad", ["nope", "01ARZ3NDEKTSV4RRFFQ69G5FAV:h", "8" * 26, ""])
async def test_ids_that_are_not_ulids_never_reach_redis(state: StateManager, bad: str) -> None:
    for call in (state.get_task, state.cancel_task, state.retry_task, state.dlq_history):
        with pytest.raises(InvalidInput):
            await call(bad)
    assert (await state.cancel_tasks([bad]))[bad] == "invalid_id"
    assert (await state.resubmit_dlq([bad], False))[bad] == "invalid_id"


async def test_ulid_spellings_find_the_same_task(state: StateManager) -> None:
    task = await state.submit_task(Task(name="add"))
    assert (await state.get_task(str(task.id).lower())).id == task.id


async def test_cursor_and_dlq_filters_are_validated(state: StateManager) -> None:
    from jobbers.store.listings import Key, PageCursor

    with pytest.raises(InvalidInput):
        await state.list_tasks(cursor=PageCursor(Key(1e20, str(ULID()))).encode())
    with pytest.raises(InvalidInput):
        await state.list_dlq(task_name="a:b")
    with pytest.raises(InvalidInput):
        await state.list_dlq(queue="../x")


async def test_stats_count_every_status_per_queue(state: StateManager) -> None:
    await state.submit_task(Task(name="add"))
    cancelled = await state.submit_task(Task(name="add"))
    await state.cancel_task(cancelled.id)
    stats = await state.stats()
    assert stats.queues[0].counts["submitted"] == 1
    assert stats.queues[0].counts["cancelled"] == 1
    assert "throughput_1m" in stats.model_dump()


async def test_hint_listener_hears_a_config_change(state: StateManager) -> None:
    import asyncio

    async with state.hint_listener() as hints:
        await state.create_queue(QueueConfig(name="hinted"))
        assert await asyncio.wait_for(anext(hints), 5) == "config"


async def test_a_worker_records_the_queues_it_reads(state: StateManager) -> None:
    await state.register_worker("w1", 10_000, {"role": "default"})
    await state.set_worker_queues("w1", ["default", "other"])
    [worker] = await state.workers()
    assert worker.queues == ["default", "other"]


async def test_a_task_heartbeat_names_the_stop_it_asks_for(state: StateManager) -> None:
    """A beat answers OK, CANCELLED once a cancel is pending, LOST for a run not current:
    the worker stops the run for that reason (``StopReason(answer)``)."""
    await state.register_worker("w-beat", 10_000, {"role": "default"})
    await state.submit_task(Task(name="noop"))
    [run] = (await state.claim("w-beat", "default", 1, {"noop@1": ClaimSpec(0, 0, -1)})).tasks
    assert await state.task_heartbeat(run.id, run.run_id) is TaskBeatReply.OK
    assert await state.task_heartbeat(run.id, "w-beat/0") is TaskBeatReply.LOST
    assert await state.cancel_task(run.id) == "requested"
    answer = await state.task_heartbeat(run.id, run.run_id)
    assert answer is TaskBeatReply.CANCELLED and StopReason(answer) is StopReason.CANCELLED
