"""Workflows survive a Redis restart (AOF): waiting children are neither lost nor released
early, and the graph finishes once Redis is back (issue 16)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from jobbers.dev.redis_server import RedisServer, free_port
from jobbers.models.task import TaskStatus
from jobbers.models.workflow import WorkflowRequest, WorkflowStatus
from jobbers.registry import load_tasks_module
from jobbers.runtime.worker import Worker, WorkerSettings
from jobbers.store.facade import StateManager
from jobbers.store.protocol import RunOutcome
from jobbers.store.workflows import Workflows
from tests.conftest import TASKS_MODULE, eventually, wait_status
from tests.procs import Procs


async def test_a_redis_restart_mid_workflow_loses_no_waiting_child(tmp_path: Path) -> None:
    server = RedisServer(free_port(), tmp_path / "redis").start()
    state = StateManager.from_url(server.url)
    try:
        await state.ensure_defaults()
        flows = Workflows(state)
        request = WorkflowRequest.model_validate(
            {
                "tasks": [
                    {"key": "a", "name": "step", "parameters": {"value": "A"}},
                    {"key": "b", "name": "step", "depends_on": ["a"]},
                    {"key": "c", "name": "step", "depends_on": ["a"]},
                    {"key": "d", "name": "step", "depends_on": ["b", "c"]},
                ]
            }
        )
        submitted, _ = await flows.submit(request)
        ids = submitted.tasks
        await state.register_worker("w-1", 60_000, {"role": "default", "queues": '["default"]'})
        res = await state.claim("w-1", "default", 1, {"step@1": (0, 0, -1)})
        assert [t.id for t in res.tasks] == [ids["a"]]
        run = res.tasks[0]
        await state.finish_many(
            [state.outcome_args(run.id, run.run_id, RunOutcome.COMPLETED, '{"value": "A"}')]
        )
        assert (await state.get_task(ids["b"])).status is TaskStatus.SUBMITTED
        assert (await state.get_task(ids["d"])).status is TaskStatus.WAITING

        server.stop(kill=True)  # SIGKILL: only what the AOF holds comes back
        server.start()

        assert (await state.get_task(ids["d"])).status is TaskStatus.WAITING
        load_tasks_module(TASKS_MODULE)
        worker = Worker(state, WorkerSettings())
        runner = asyncio.create_task(worker.run())
        try:

            async def done() -> bool:
                return (await flows.get(submitted.id)).status is not WorkflowStatus.RUNNING

            await eventually(done, within=30, what="the workflow to finish")
            assert (await flows.get(submitted.id)).status is WorkflowStatus.COMPLETED
            d = await state.get_task(ids["d"])
            assert d.results is not None
            assert set(d.results["parents"]) == {ids["b"], ids["c"]}
            b = await state.get_task(ids["b"])
            assert b.results is not None and b.results["inputs"] == {ids["a"]: {"value": "A"}}
        finally:
            worker.request_shutdown()
            worker.request_shutdown()
            await asyncio.wait_for(runner, 30)
    finally:
        await state.close()
        server.stop(kill=True)


async def test_a_parent_whose_worker_died_is_recovered_and_releases_its_child(
    state: StateManager, procs: Procs
) -> None:
    flows = Workflows(state)
    request = WorkflowRequest.model_validate(
        {
            "tasks": [
                {"key": "a", "name": "step", "parameters": {"value": "A"}},
                {"key": "b", "name": "step", "depends_on": ["a"]},
            ]
        }
    )
    submitted, _ = await flows.submit(request)
    ids = submitted.tasks
    # A worker that dies (SIGKILL) right after claiming the parent: it never beats again.
    ghost = "ghost-killed-mid-parent"
    await state.register_worker(ghost, 1000, {"role": "default", "pid": 0})
    claim = await state.claim(ghost, "default", 1, {"step@1": (0, 0, -1)})
    assert [c.id for c in claim.tasks] == [ids["a"]]
    procs.worker()
    procs.cleaner(interval=0.3)
    b = await wait_status(state, ids["b"], "completed", within=30)
    a = await state.get_task(ids["a"])
    assert a.recoveries == 1
    assert b.results is not None and b.results["inputs"][ids["a"]]["value"] == "A"
