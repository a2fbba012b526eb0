"""The worker, in process, on a real Redis: results, retries, DLQ, drops, indexes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from jobbers.models.task import Task
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status


async def outcome(
    state: StateManager, start_worker: Any, task: Task, status: str, within: float = 10.0
) -> Any:
    """Start a worker, submit ``task`` and return it once it reaches ``status``."""
    await start_worker()
    submitted = await state.submit_task(task)
    return await wait_status(state, submitted.id, status, within=within)


ALL_STATUSES = [
    "submitted",
    "scheduled",
    "started",
    "completed",
    "failed",
    "cancelled",
    "stalled",
    "dropped",
]


async def test_result_is_stored(state: StateManager, start_worker: Any) -> None:
    done = await outcome(
        state, start_worker, Task(name="add", parameters={"a": 2, "b": 3}), "completed"
    )
    assert done.results == {"sum": 5}
    assert done.started_at is not None and done.completed_at is not None
    assert done.completed_at >= done.started_at >= done.submitted_at


async def test_none_result_is_stored_as_empty_dict(state: StateManager, start_worker: Any) -> None:
    assert (await outcome(state, start_worker, Task(name="noop"), "completed")).results == {}


async def test_unserialisable_result_fails_clearly(state: StateManager, start_worker: Any) -> None:
    failed = await outcome(state, start_worker, Task(name="bad_result"), "failed")
    assert "not JSON serialisable" in (failed.last_error or "")
    assert failed.retry_attempt == 0


async def test_idle_worker_starts_a_task_within_milliseconds(
    state: StateManager, start_worker: Any
) -> None:
    await start_worker(block_timeout=30.0)  # a long block: only the doorbell can wake it
    await asyncio.sleep(0)  # let the fetcher block
    latencies = []
    for _ in range(5):
        task = await state.submit_task(Task(name="noop"))
        started = time.monotonic()
        await wait_status(state, task.id, "completed", within=5)
        latencies.append(time.monotonic() - started)
    assert sorted(latencies)[2] < 0.2, latencies


async def test_unknown_version_is_dropped_with_reason(
    state: StateManager, start_worker: Any
) -> None:
    dropped = await outcome(state, start_worker, Task(name="add", version=99), "dropped")
    assert "add@99" in (dropped.last_error or "")
    assert dropped.errors[-1].kind == "dropped"


async def test_expected_exception_retries_immediately_then_fails_into_dlq(
    state: StateManager, start_worker: Any
) -> None:
    failed = await outcome(state, start_worker, Task(name="flaky"), "failed")
    assert failed.retry_attempt == 3  # max_retries=3: four attempts
    assert [e.attempt for e in failed.errors] == [0, 1, 2, 3]
    assert all(e.exc_type == "Flaky" and e.traceback for e in failed.errors)
    assert failed.in_dlq
    dlq = await state.list_dlq()
    assert [t.id for t in dlq.items] == [failed.id]
    assert len(await state.dlq_history(failed.id)) == 4


async def test_expected_exception_can_succeed_on_retry(
    state: StateManager, start_worker: Any
) -> None:
    done = await outcome(
        state, start_worker, Task(name="flaky", parameters={"succeed_on": 2}), "completed"
    )
    assert done.results == {"attempt": 2}
    assert len(done.errors) == 2


async def test_unexpected_exception_fails_at_once(state: StateManager, start_worker: Any) -> None:
    failed = await outcome(state, start_worker, Task(name="boom"), "failed")
    assert failed.retry_attempt == 0
    assert failed.errors[0].exc_type == "ValueError"
    assert "unexpected failure" in failed.errors[0].message
    assert failed.in_dlq


async def test_timeout_takes_the_retry_path(state: StateManager, start_worker: Any) -> None:
    failed = await outcome(
        state, start_worker, Task(name="slow", parameters={"seconds": 10}), "failed", within=5
    )
    assert failed.errors[0].kind == "timeout"
    assert "timed out after 1s" in failed.errors[0].message
    assert not failed.in_dlq  # DeadLetterPolicy.NONE


async def test_delayed_retry_is_scheduled(state: StateManager, start_worker: Any) -> None:
    scheduled = await outcome(
        state, start_worker, Task(name="flaky_delayed", parameters={"succeed_on": 1}), "scheduled"
    )
    assert scheduled.scheduled_for is not None and scheduled.retry_attempt == 1
    assert 0.5 < (scheduled.scheduled_for - scheduled.errors[-1].at).total_seconds() <= 1.1
    page = await state.scheduled_tasks()
    assert [t.id for t in page.items] == [scheduled.id]
    # Only the scheduler promotes it: without one it stays scheduled.
    promoted, _ = await state.promote_due()
    assert promoted == 0


async def test_heartbeat_records_progress(state: StateManager, start_worker: Any) -> None:
    done = await outcome(
        state,
        start_worker,
        Task(name="beater", parameters={"steps": 3, "step_s": 0.05}),
        "completed",
    )
    assert done.progress == 1.0
    assert done.progress_message == "3/3"
    assert done.heartbeat_at is not None and done.heartbeat_at > done.started_at
    assert done.max_heartbeat_interval == 1.0


async def test_each_task_is_in_exactly_one_index_under_concurrent_workers(
    state: StateManager, start_worker: Any
) -> None:
    for _ in range(4):
        await start_worker(concurrency=8)
    ids = []
    for i in range(150):
        name = ("add", "flaky", "boom", "noop")[i % 4]
        params = {"a": 1, "b": 1} if name == "add" else {"succeed_on": 1} if name == "flaky" else {}
        ids.append(str((await state.submit_task(Task(name=name, parameters=params))).id))

    async def all_terminal() -> bool:
        tasks = await state.get_tasks(ids)
        return all(t.status in ("completed", "failed") for t in tasks)

    await eventually(all_terminal, within=30, what="all tasks terminal")
    memberships: dict[str, list[str]] = {tid: [] for tid in ids}
    for status in ALL_STATUSES:
        for tid in await state.redis.zrange(state.keys.status_index(status), 0, -1):
            memberships[str(tid)].append(status)
        for tid in await state.redis.zrange(state.keys.status_index(status, "default"), 0, -1):
            memberships[str(tid)].append(f"{status}:default")
    for tid, where in memberships.items():
        task = await state.get_task(tid)
        assert where == [task.status.value, f"{task.status.value}:default"], (tid, where)
    stats = await state.stats()
    assert stats.statuses["completed"] + stats.statuses["failed"] == 150
    assert stats.statuses["failed"] == (await state.redis.zcard(state.keys.status_index("failed")))
    for status in ("started", "submitted", "scheduled"):
        assert stats.statuses[status] == 0
    for worker in await state.workers():
        assert worker.in_flight == []
    runs = await state.redis.mget([f"test:ran:{tid}" for tid in ids])
    assert runs == [None] * len(ids)  # sanity: these tasks do not mark


async def test_worker_counts_and_registration(state: StateManager, start_worker: Any) -> None:
    worker = await start_worker(concurrency=3)
    task = await state.submit_task(Task(name="boom"))
    await wait_status(state, task.id, "failed")
    [info] = await eventually(state.workers)
    assert info.id == worker.id
    assert info.role == "default" and info.concurrency == 3 and info.alive
    assert info.queues == ["default"]
    assert info.processed == 1 and info.failed == 1


async def test_worker_deregisters_on_exit(state: StateManager, start_worker: Any) -> None:
    worker = await start_worker()
    assert [w.id for w in await state.workers()] == [worker.id]
    worker.request_shutdown()
    await eventually(lambda: worker._done.is_set())

    async def gone() -> bool:
        return await state.workers() == []

    await eventually(gone, what="worker deregistered")


async def test_results_must_be_small_json_dicts(state: StateManager, start_worker: Any) -> None:
    await start_worker()
    huge = await state.submit_task(Task(name="huge_result"))
    listy = await state.submit_task(Task(name="not_a_dict"))
    assert "over the 1048576 limit" in (
        (await wait_status(state, huge.id, "failed")).last_error or ""
    )
    assert "dict or None, not list" in (
        (await wait_status(state, listy.id, "failed")).last_error or ""
    )
    assert await state.redis.exists(state.keys.results(str(huge.id))) == 0


async def test_parameters_the_function_rejects_fail_clearly(
    state: StateManager, start_worker: Any
) -> None:
    failed = await outcome(state, start_worker, Task(name="add", parameters={"a": 1}), "failed")
    assert failed.errors[0].exc_type == "KeyError" and "'b'" in failed.errors[0].message
