"""Connections cut under the processes: blocked dequeues killed or unblocked, pub/sub dropped.

Workers and the scheduler must resume by themselves; a role change whose pub/sub hint
never arrives must still reach every worker (they poll the config version on heartbeat).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jobbers.models.queue import QueueConfig, Role
from jobbers.models.task import Task
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status
from tests.procs import (
    Procs,
    blocked_on_bzpopmin,
    blocking_waits,
    figure,
    fresh_counts,
    live_workers,
)

WORKERS = 3


@pytest.fixture
async def counts(clean_redis: str) -> AsyncIterator[Any]:
    """The count DB of the ``tally`` task, emptied."""
    client = await fresh_counts(clean_redis)
    yield client
    await client.aclose()


async def _fleet(state: StateManager, procs: Procs) -> list[str]:
    """Three workers and a scheduler, all blocked in BZPOPMIN; their worker ids."""
    for _ in range(WORKERS):
        procs.worker(concurrency=4)
    procs.scheduler()
    workers = await live_workers(state, WORKERS)
    await blocked_on_bzpopmin(state, WORKERS + 1)
    return [w.id for w in workers]


async def _every_worker_runs(state: StateManager, counts: Any, label: str) -> float:
    """Seconds until every worker has run a fresh task (a task with a retry proves the
    scheduler too): tasks go in until each worker has claimed at least one."""
    t0 = time.monotonic()
    ids: list[str] = []
    seen: set[str] = set()

    async def each_worker_ran() -> bool:
        task = await state.submit_task(
            Task(name="tally", parameters={"mark": f"{label}-{len(ids)}"})
        )
        ids.append(str(task.id))
        for done in await state.get_tasks(ids):
            if done.status == "completed" and done.worker_id:
                seen.add(done.worker_id)
        return len(seen) >= WORKERS

    await eventually(each_worker_ran, within=20, interval=0.05, what=f"{label}: every worker runs")
    took = time.monotonic() - t0
    for tid in ids:
        await wait_status(state, tid, "completed", within=10)
    runs = await counts.hgetall("runs")
    assert all(runs.get(f"{label}-{i}") == "1" for i in range(len(ids))), runs
    return took


@pytest.mark.parametrize("how", ["client-kill", "client-unblock-error", "client-unblock-timeout"])
async def test_workers_and_scheduler_resume_after_their_blocking_connections_are_cut(
    state: StateManager, procs: Procs, counts: Any, how: str
) -> None:
    await _fleet(state, procs)
    blocked = await blocked_on_bzpopmin(state, WORKERS + 1)  # the fetchers and the scheduler
    cut = time.monotonic()
    for client in blocked:
        if how == "client-kill":
            await state.redis.client_kill_filter(_id=client["id"])
        elif how == "client-unblock-error":
            await state.redis.client_unblock(client["id"], error=True)
        else:
            await state.redis.client_unblock(client["id"])
    # Those waits ended when Redis answered (KILL and UNBLOCK are synchronous), so any
    # wait seen from now on is a new one.
    await eventually(
        lambda: _blocked(state, WORKERS + 1), within=15, what="every process blocking again"
    )
    resumed = time.monotonic() - cut
    took = await _every_worker_runs(state, counts, how)
    # The scheduler too: a retry scheduled now is promoted when due (1 s) and runs.
    retried = await state.submit_task(Task(name="flaky_delayed", parameters={"succeed_on": 1}))
    done = await wait_status(state, retried.id, "completed", within=10)
    assert done.retry_attempt == 1
    figure(f"{how}: every fetcher and the scheduler blocking again", resumed)
    figure(f"{how}: every worker ran a new task", took)


async def test_workers_follow_a_role_change_whose_pubsub_hint_is_lost(
    state: StateManager, procs: Procs, counts: Any
) -> None:
    await state.create_queue(QueueConfig(name="later"))
    await _fleet(state, procs)
    # A raw write that publishes nothing, exactly like put_role minus its hint.
    role = Role(name="default", queues=["default", "later"])
    await state.redis.hset(state.keys.roles, "default", role.model_dump_json())
    await state.redis.incr(state.keys.config_version)
    changed = time.monotonic()
    task = await state.submit_task(Task(name="tally", queue="later", parameters={"mark": "raw"}))
    await wait_status(state, task.id, "completed", within=10)
    took = time.monotonic() - changed

    async def every_worker_follows() -> bool:
        return all(w.queues == ["default", "later"] for w in await state.workers())

    await eventually(every_worker_follows, within=10, what="every worker on the new role")
    figure("role change without its pub/sub hint: first task of the new queue done", took)


async def test_workers_follow_a_role_change_while_their_pubsub_is_cut(
    state: StateManager, procs: Procs, counts: Any
) -> None:
    await state.create_queue(QueueConfig(name="later"))
    await _fleet(state, procs)
    # Each worker subscribes in its own loop, maybe after it first blocks: wait for all.
    await eventually(lambda: _resubscribed(state), within=10, what="every worker subscribed")
    subscribers = [c for c in await state.redis.client_list() if int(c.get("sub", 0)) > 0]
    assert len(subscribers) == WORKERS
    for client in subscribers:
        await state.redis.client_kill_filter(_id=client["id"])
    await state.put_role(Role(name="default", queues=["later"]))  # published to nobody
    changed = time.monotonic()

    async def every_worker_follows() -> bool:
        return all(w.queues == ["later"] for w in await state.workers())

    await eventually(every_worker_follows, within=10, what="every worker on the new role")
    took = time.monotonic() - changed
    task = await state.submit_task(Task(name="tally", queue="later", parameters={"mark": "cut"}))
    await wait_status(state, task.id, "completed", within=10)
    stray = await state.submit_task(Task(name="tally", parameters={"mark": "stray"}))
    await eventually(lambda: _resubscribed(state), within=10, what="pub/sub connections back")
    assert (await state.get_task(stray.id)).status == "submitted"  # default left the role
    figure("role change with the pub/sub connections cut: every worker following", took)


async def _blocked(state: StateManager, n: int) -> bool:
    return len(await blocking_waits(state)) >= n


async def _resubscribed(state: StateManager) -> bool:
    return len([c for c in await state.redis.client_list() if int(c.get("sub", 0)) > 0]) == WORKERS
