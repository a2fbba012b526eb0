"""The worker's background loops outlive error replies, and a loop that fails stops it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jobbers.models.task import Task
from jobbers.registry import load_tasks_module
from jobbers.runtime.worker import Worker, WorkerCrashed, WorkerSettings
from jobbers.store.facade import StateManager
from tests.conftest import TASKS_MODULE, eventually, wait_status


async def test_an_oom_reply_does_not_end_the_heartbeat(
    state: StateManager, start_worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    worker = await start_worker(lease_ms=600)  # a beat every 0.2 s
    await state.redis.config_set("maxmemory", 1)  # every write now answers OOM
    try:
        await eventually(
            lambda: "heartbeat: redis unavailable" in caplog.text, within=10, what="OOM"
        )
        assert "maxmemory" in caplog.text
    finally:
        await state.redis.config_set("maxmemory", 0)
    assert not any(loop.done() for loop in worker._loops), "a loop ended on an error reply"
    task = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 1}))
    assert (await wait_status(state, task.id, "completed")).results == {"sum": 2}
    workers = await state.workers()
    assert [w.alive for w in workers] == [True]


async def test_a_loop_that_fails_stops_the_worker_and_deregisters_it(state: StateManager) -> None:
    load_tasks_module(TASKS_MODULE)
    worker = Worker(state, WorkerSettings(lease_ms=600))

    async def broken(reap: bool = True) -> None:
        raise RuntimeError("a bug in the heartbeat")

    worker.heartbeat.beat_once = broken  # type: ignore[method-assign]
    with pytest.raises(WorkerCrashed, match="beat loop failed"):
        await asyncio.wait_for(worker.run(), 30)
    assert await state.workers() == []
