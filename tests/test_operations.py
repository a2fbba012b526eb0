"""Operator actions on the state: retry, DLQ resubmit and delete, scheduled cancel, retention."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jobbers.errors import DuplicateTask, InvalidTransition, TaskNotFound
from jobbers.models.queue import QueueConfig
from jobbers.models.task import Task, TaskStatus
from jobbers.runtime.cleaner import Cleaner, CleanerSettings
from jobbers.runtime.scheduler import Scheduler
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status


async def test_cancel_scheduled_task_at_once(state: StateManager, start_worker: Any) -> None:
    await start_worker()
    task = await state.submit_task(Task(name="flaky_delayed"))
    await wait_status(state, task.id, "scheduled")
    assert await state.cancel_task(task.id) == "cancelled"
    cancelled = await state.get_task(task.id)
    assert cancelled.status is TaskStatus.CANCELLED and cancelled.scheduled_for is None
    assert await state.redis.zcard(state.keys.status_index("scheduled")) == 0
    assert (await Scheduler(state).step()) > 0  # nothing left to promote


async def test_operator_retry_of_failed_task(state: StateManager, start_worker: Any) -> None:
    await start_worker()
    task = await state.submit_task(Task(name="flaky", parameters={"succeed_on": 4}))
    failed = await wait_status(state, task.id, "failed")
    assert failed.retry_attempt == 3 and failed.in_dlq
    await state.set_queue_paused("default", True)
    waiting = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 1}))
    with pytest.raises(InvalidTransition, match="submitted"):
        await state.retry_task(waiting.id)  # a waiting task cannot be retried
    await state.set_queue_paused("default", False)
    retried = await state.retry_task(task.id)
    assert retried.status in ("submitted", "started", "failed")  # a worker may be quick

    async def failed_again(n: int) -> Any:
        found = await state.get_task(task.id)
        return found if found.status == "failed" and len(found.errors) == n else None

    # Without a reset the retry counter stays spent: one more attempt, then failed.
    again = await eventually(lambda: failed_again(5))
    assert again.retry_attempt == 3 and again.in_dlq
    # With a reset the task gets its full retry budget back.
    await state.retry_task(task.id, reset_retry_count=True)
    again = await eventually(lambda: failed_again(9))
    # History entries number attempts over the task's life: an operator's retry starts a
    # new attempt whether or not it resets the retry count (which the policy reads).
    assert [e.attempt for e in again.errors] == list(range(9))
    assert again.retry_attempt == 3 and again.attempt_base == 5


async def test_retry_unknown_task(state: StateManager) -> None:
    with pytest.raises(TaskNotFound):
        await state.retry_task("01ARZ3NDEKTSV4RRFFQ69G5FAV")


async def test_dlq_filters_resubmit_and_delete(state: StateManager, start_worker: Any) -> None:
    await state.create_queue(QueueConfig(name="other"))
    await start_worker()
    boom = [await state.submit_task(Task(name="boom")) for _ in range(3)]
    flaky = await state.submit_task(Task(name="flaky"))
    for t in [*boom, flaky]:
        await wait_status(state, t.id, "failed")
    assert len((await state.list_dlq()).items) == 4
    assert {str(t.id) for t in (await state.list_dlq(task_name="boom")).items} == {
        str(t.id) for t in boom
    }
    assert (await state.list_dlq(task_name="boom", task_version=2)).items == []
    assert len((await state.list_dlq(queue="default")).items) == 4
    assert (await state.list_dlq(queue="other")).items == []
    page = await state.list_dlq(limit=3)
    rest = await state.list_dlq(limit=3, cursor=page.next_cursor)
    assert len(page.items) == 3 and len(rest.items) == 1 and rest.next_cursor is None

    outcomes = await state.resubmit_dlq([str(flaky.id), "01ARZ3NDEKTSV4RRFFQ69G5FAV"], True)
    assert outcomes[str(flaky.id)] == "resubmitted"
    assert outcomes["01ARZ3NDEKTSV4RRFFQ69G5FAV"] == "not_found"
    again = await wait_status(state, flaky.id, "failed")
    assert again.in_dlq and len(again.errors) == 8  # history kept across the resubmit

    assert await state.remove_from_dlq([str(boom[0].id), str(boom[0].id)]) == 1
    removed = await state.get_task(boom[0].id)
    assert removed.status is TaskStatus.FAILED and not removed.in_dlq
    with pytest.raises(TaskNotFound):
        await state.dlq_history(boom[0].id)
    assert (await state.stats()).dlq == 3


async def test_retention_deletes_old_terminal_tasks_and_keeps_idempotency(
    state: StateManager, start_worker: Any
) -> None:
    await start_worker()
    task = Task(name="add", parameters={"a": 1, "b": 1})
    await state.submit_task(task)
    await wait_status(state, task.id, "completed")
    await state.set_queue_paused("default", True)
    waiting = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 1}))
    cleaner = Cleaner(state, CleanerSettings(retention_s=0, failed_retention_s=0))
    report = await cleaner.run_once()
    assert report.deleted >= 1
    with pytest.raises(TaskNotFound):
        await state.get_task(task.id)
    assert await state.redis.exists(state.keys.params(str(task.id))) == 0
    # A late duplicate of a deleted task is still recognised, never run again.
    with pytest.raises(DuplicateTask, match="retention"):
        await state.submit(Task(id=task.id, name="add", parameters={"a": 1, "b": 1}))
    assert (await state.get_task(waiting.id)).status == "submitted"  # not terminal: kept


async def test_a_claim_whose_reply_was_lost_is_requeued(state: StateManager) -> None:
    """A worker's heartbeat hands back in-flight tasks it never heard of."""
    await state.register_worker("w-lost", 10_000, {"role": "default"})
    task = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 1}))
    res = await state.claim("w-lost", "default", 1, {"add@1": (0, 0, -1)})
    assert [t.id for t in res.tasks] == [str(task.id)]
    # The reply is "lost": the worker reports no runs. Age the entry past the grace.
    await state.redis.zadd(state.keys.inflight("w-lost"), {str(task.id): 0})
    beat = await state.worker_heartbeat("w-lost", 10_000, [])
    assert not beat.reaped
    back = await state.get_task(task.id)
    assert back.status is TaskStatus.SUBMITTED and back.recoveries == 1
    assert back.errors[-1].kind == "worker_lost"
    assert await state.redis.zcard(state.keys.inflight("w-lost")) == 0


async def test_blocking_waits_outlast_the_default_socket_timeout(state: StateManager) -> None:
    """A doorbell wait longer than redis-py's default 5 s socket timeout ends cleanly."""
    t0 = time.monotonic()
    assert await state.wait_for_work(["default"], state.keys.wake("nobody"), 5.5) is None
    assert time.monotonic() - t0 >= 5.4


async def test_a_cancel_waits_for_the_worker_to_know_its_run(state: StateManager) -> None:
    """A cancel that lands between a claim and the worker registering the run is kept."""
    worker = "w-slow-to-register"
    await state.register_worker(worker, 10_000, {"role": "default", "pid": 0})
    task = await state.submit_task(Task(name="add"))
    claim = await state.claim(worker, "default", 1, {"add@1": (0, 0, -1)})
    run_id = claim.tasks[0].run_id
    assert await state.cancel_task(task.id) == "requested"
    # The worker's beat before it knows the run: the request must not be used up.
    early = await state.worker_heartbeat(worker, 10_000, [])
    assert early.cancels == [] and not early.reaped
    later = await state.worker_heartbeat(worker, 10_000, [(str(task.id), run_id)])
    assert later.cancels == [str(task.id)]
    assert (await state.worker_heartbeat(worker, 10_000, [(str(task.id), run_id)])).cancels == []


async def test_cancels_of_tasks_a_worker_no_longer_runs_are_dropped(state: StateManager) -> None:
    worker = "w-finished"
    await state.register_worker(worker, 10_000, {"role": "default", "pid": 0})
    task = await state.submit_task(Task(name="add"))
    claim = await state.claim(worker, "default", 1, {"add@1": (0, 0, -1)})
    assert await state.cancel_task(task.id) == "requested"
    await state.complete(str(task.id), claim.tasks[0].run_id, {})
    assert (await state.worker_heartbeat(worker, 10_000, [])).cancels == []
    assert not await state.redis.exists(state.keys.cancel_box(worker))
