"""Recovery in about a second: a dead worker is found from its connections, not its lease.

Workers here keep the default 15 s lease, so any recovery within a few seconds is the
connection watch's (``jobbers.runtime.cleaner.ConnectionWatch``), never a lapsed lease.
"""

from __future__ import annotations

import math
import os
import signal
import statistics
import subprocess
import time
from typing import Any

from jobbers.models.task import Task, TaskStatus
from jobbers.runtime.cleaner import ConnectionWatch
from jobbers.store.facade import StateManager
from jobbers.store.runs import connection_name
from tests.conftest import eventually
from tests.procs import Procs, cleaner_with, figure, live_workers, worker_with

DEFAULT_LEASE = {"JOBBERS_WORKER_LEASE_MS": "15000"}
KILLS = 20


async def running_on(state: StateManager, task_id: str, not_on: str = "") -> tuple[str, str]:
    """(worker, run id) once the task runs on a worker other than ``not_on``."""

    async def check() -> tuple[str, str] | None:
        status, worker, run_id = await state.redis.hmget(
            state.keys.task(task_id), "status", "worker", "run_id"
        )
        if status == TaskStatus.STARTED and worker and worker != not_on:
            return str(worker), str(run_id)
        return None

    found: tuple[str, str] = await eventually(check, within=30, interval=0.01, what="a run")
    return found


async def names(state: StateManager) -> set[str]:
    return {c.get("name", "") for c in await state.redis.client_list(_type="normal")}


async def one_worker_running_forever(
    state: StateManager, procs: Procs
) -> tuple[subprocess.Popen[bytes], str, str]:
    """A named worker subprocess (default lease) running a ``forever`` task: (proc, id, task)."""
    proc = worker_with(procs, DEFAULT_LEASE, concurrency=1)
    (info,) = await live_workers(state, 1)
    task = await state.submit_task(Task(name="forever"))
    await running_on(state, str(task.id))
    return proc, info.id, str(task.id)


async def test_a_killed_worker_is_reaped_on_the_second_look_at_its_connections(
    state: StateManager, procs: Procs
) -> None:
    proc, wid, tid = await one_worker_running_forever(state, procs)
    assert connection_name(wid) in await names(state)
    # A worker that names no connection (an in-process one) is left to its lease.
    await state.register_worker("plain", 60_000, {"role": "default"})
    watch = ConnectionWatch(state, max_recoveries=3, grace_s=0)
    assert await watch.check() == (0, 0, 0)

    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)
    await eventually(lambda: _gone(state, wid), what="its connections closed")
    assert await watch.check() == (0, 0, 0), "reaped on one look"
    assert await watch.check() == (1, 1, 0)

    task = await state.get_task(tid)
    assert task.status == TaskStatus.SUBMITTED
    assert [e.kind for e in task.errors] == ["worker_lost"]
    assert {w.id for w in await state.workers()} == {"plain"}


async def _gone(state: StateManager, wid: str) -> bool:
    return connection_name(wid) not in await names(state)


async def test_no_reaping_within_the_grace_after_a_first_look_restart_or_failover(
    state: StateManager, procs: Procs
) -> None:
    proc, wid, tid = await one_worker_running_forever(state, procs)
    watch = ConnectionWatch(state, max_recoveries=3, grace_s=60)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=5)
    await eventually(lambda: _gone(state, wid), what="its connections closed")
    for _ in range(3):
        assert await watch.check() == (0, 0, 0)
    assert (await state.get_task(tid)).status == TaskStatus.STARTED
    assert wid in {w.id for w in await state.workers()}


async def test_a_worker_whose_connections_drop_and_come_back_is_not_reaped(
    state: StateManager, procs: Procs
) -> None:
    proc, wid, tid = await one_worker_running_forever(state, procs)
    _, run_id = await running_on(state, tid)
    watch = ConnectionWatch(state, max_recoveries=3, grace_s=0)
    await watch.check()
    # Frozen while Redis drops every connection of it: the watch sees it absent once.
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        for client in await state.redis.client_list(_type="normal"):
            if client.get("name") == connection_name(wid):
                await state.redis.client_kill_filter(_id=client["id"])
        assert await watch.check() == (0, 0, 0)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    await eventually(
        lambda: _back(state, wid), what="the worker reconnected", within=15, interval=0.05
    )
    assert await watch.check() == (0, 0, 0)
    assert await watch.check() == (0, 0, 0)
    assert await running_on(state, tid) == (wid, run_id)


async def _back(state: StateManager, wid: str) -> bool:
    return connection_name(wid) in await names(state)


async def test_a_sigkilled_workers_task_runs_again_within_two_seconds(
    state: StateManager, procs: Procs
) -> None:
    """20 SIGKILLs of the worker running one task; p99 of kill -> running again < 2 s."""
    env = {**DEFAULT_LEASE, "JOBBERS_CONN_GRACE_S": "0.5", "JOBBERS_MAX_RECOVERIES": "100"}
    cleaner_with(procs, 30, **env)
    await eventually(
        lambda: "connection watch on" in procs.logs(), what="the connection watch", within=15
    )
    workers = {}
    for _ in range(3):
        proc = worker_with(procs, DEFAULT_LEASE, concurrency=1)
        workers[proc.pid] = proc
    await live_workers(state, 3)
    task = await state.submit_task(Task(name="forever"))
    tid = str(task.id)
    owner, _ = await running_on(state, tid)
    times: list[float] = []
    for _ in range(KILLS):
        by_id = {w.id: w.pid for w in await state.workers()}
        # One idle peer at least, registered, to take the task back.
        await live_workers(state, 2)
        victim = workers.pop(by_id[owner])
        victim.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        owner, _ = await running_on(state, tid, not_on=owner)
        times.append(time.monotonic() - killed)
        victim.wait(timeout=5)
        fresh = worker_with(procs, DEFAULT_LEASE, concurrency=1)
        workers[fresh.pid] = fresh
    times.sort()
    p99 = times[math.ceil(0.99 * len(times)) - 1]
    figure("connection watch: SIGKILL -> task running again, median", statistics.median(times))
    figure("connection watch: SIGKILL -> task running again, p99 of 20", p99)
    assert p99 < 2.0, times
    final: Any = await state.get_task(tid)
    assert final.status == TaskStatus.STARTED and len(final.errors) == KILLS


async def test_without_permission_for_client_list_the_watch_stops_and_says_so(
    state: StateManager, clean_redis: str, caplog: Any
) -> None:
    import asyncio
    import logging

    await state.redis.acl_setuser(
        "nolist", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
        commands=["+@all", "-client"],
    )  # fmt: skip
    limited = StateManager.from_url(clean_redis.replace("redis://", "redis://nolist:pw@"))
    try:
        watch = ConnectionWatch(limited, max_recoveries=3, grace_s=0)
        with caplog.at_level(logging.ERROR, logger="jobbers.runtime.cleaner"):
            await asyncio.wait_for(watch.run(0.01, asyncio.Event()), 10)
        assert "connection watch off" in caplog.text
    finally:
        await limited.close()
        await state.redis.acl_deluser("nolist")
