"""The whole task lifecycle on a Redis Cluster, every jobbers key on the prefix's slot.

A manager (in-process, over HTTP), a worker, a scheduler and a cleaner (subprocesses)
reach the cluster through ``redis+cluster://`` seeds; nothing else is configured.
"""

from __future__ import annotations

import signal
import time
from typing import Any

import httpx
from redis import Redis as SyncRedis
from redis.crc import key_slot

from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from jobbers.store.runs import connection_name
from tests.cluster_set import ClusterSet
from tests.conftest import eventually
from tests.procs import Procs, RunLog, cleaner_with, figure, live_workers, worker_with
from tests.server.conftest import client_for, make_app


async def settled(client: httpx.AsyncClient, task_id: str, *statuses: str) -> dict[str, Any]:
    """The task's record once its status is one of ``statuses``."""

    last: dict[str, Any] = {}

    async def check() -> dict[str, Any] | None:
        last.update((await client.get(f"/task-status/{task_id}")).json())
        return last if last["status"] in statuses else None

    try:
        found: dict[str, Any] = await eventually(check, within=20, what=f"{statuses}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {last}") from None
    return found


async def submit(client: httpx.AsyncClient, name: str, **parameters: Any) -> str:
    response = await client.post("/submit-task", json={"name": name, "parameters": parameters})
    assert response.status_code == 201, response.text
    return str(response.json()["task"]["id"])


async def test_submit_claim_retry_dlq_cancel_and_stats_on_a_cluster(
    shared_cluster: ClusterSet, cluster_state: StateManager, cluster_procs: Procs, prefix: str
) -> None:
    state, url = cluster_state, shared_cluster.url
    cluster_procs.worker(concurrency=4)
    cluster_procs.scheduler()
    cluster_procs.cleaner()
    await live_workers(state, 1)
    async with client_for(make_app(url)) as client:
        added = await submit(client, "add", a=1, b=2)
        flaky = await submit(client, "flaky", succeed_on=1)  # attempt 0 fails: retried
        boom = await submit(client, "boom")  # unexpected error: to the DLQ
        forever = await submit(client, "counted", seconds=3600)  # runs until cancelled

        assert (await settled(client, added, "completed"))["results"] == {"sum": 3}
        retried = await settled(client, flaky, "completed")
        assert retried["results"] == {"attempt": 1}
        assert [e["kind"] for e in retried["errors"]] == ["error"]
        dead = await settled(client, boom, "failed")
        assert dead["in_dlq"] is True
        dlq = (await client.get("/dead-letter-queue")).json()
        assert [row["id"] for row in dlq["items"]] == [boom]

        await settled(client, forever, "started")
        cancel = await client.post(f"/task/{forever}/cancel")
        assert cancel.json()["outcome"] == "cancel_requested", cancel.text
        await settled(client, forever, "cancelled")
        later = await state.submit_task(Task(name="add", delay=3600))
        assert later.status == TaskStatus.SCHEDULED
        assert await state.cancel_task(str(later.id)) == "cancelled"

        stats = (await client.get("/stats")).json()
        assert stats["workers"] == 1 and stats["dlq"] == 1
        assert stats["statuses"]["completed"] == 2
        assert stats["statuses"]["cancelled"] == 2
    assert "Traceback" not in cluster_procs.logs()

    # Every key is on the prefix's slot, served by one master: the one the pool found.
    slot = key_slot(prefix.encode())
    owner = shared_cluster.owner(prefix)
    assert owner is not None
    with SyncRedis(port=owner) as node:
        on_slot = node.execute_command("CLUSTER COUNTKEYSINSLOT", slot)
        assert on_slot >= 10, on_slot  # tasks, indexes, queues, workers, events...
    assert await state.redis.cluster("MYID") == ClusterSet.node_id(owner)


async def test_a_sigkilled_workers_task_runs_again_on_a_cluster(
    cluster_state: StateManager, cluster_procs: Procs, tmp_path: Any
) -> None:
    """Recovered by the connection watch (CLIENT LIST on the slot's master), not the lease."""
    state = cluster_state
    log = RunLog(tmp_path / "runs.log")
    lease = {"JOBBERS_WORKER_LEASE_MS": "15000", **log.env}
    workers = [worker_with(cluster_procs, lease, concurrency=1) for _ in range(2)]
    cleaner_with(cluster_procs, 0.2, JOBBERS_CONN_GRACE_S="0")
    await live_workers(state, 2)
    task = await state.submit_task(Task(name="counted", parameters={"seconds": 2}))
    tid = str(task.id)
    await eventually(lambda: log.count().get(tid) == 1, within=20, what="the first run")
    running = await state.get_task(tid)
    (info,) = [w for w in await state.workers() if w.id == running.worker_id]
    names = {c.get("name") for c in await state.redis.client_list(_type="normal")}
    assert connection_name(info.id) in names
    (doomed,) = [p for p in workers if p.pid == info.pid]

    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=5)
    killed_at = time.monotonic()
    # Well inside the 15 s lease: the connection watch found the worker gone.
    await eventually(lambda: log.count().get(tid) == 2, within=5, what="a second run")
    figure("cluster: worker SIGKILL -> its task starts again", time.monotonic() - killed_at)
    done = await eventually(
        lambda: _completed(state, tid), within=10, what="the second run to complete"
    )
    assert [e.kind for e in done.errors] == ["worker_lost"]
    assert log.count("end") == {tid: 1}


async def _completed(state: StateManager, tid: str) -> Task | None:
    task = await state.get_task(tid)
    return task if task.status == TaskStatus.COMPLETED else None
