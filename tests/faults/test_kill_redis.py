"""Fault suite, part A: Redis itself killed, restarted and frozen under a real fleet (issue #7).

Each test starts its own Redis (``RedisServer``: AOF, ``appendfsync everysec``), a real
manager (the ``jobbers_manager`` console script on uvicorn) and real worker and cleaner
subprocesses, then SIGKILLs or SIGSTOPs that Redis. The session Redis is never touched.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from ulid import ULID

from jobbers.dev.redis_server import RedisServer, free_port
from jobbers.models.task import TaskStatus
from jobbers.store.facade import StateManager
from tests.conftest import TASKS_MODULE, eventually, spawn
from tests.procs import Procs, RunLog, figure, live_workers, worker_with

MANAGER = Path(sys.executable).parent / "jobbers_manager"


# The warning each retrying loop logs per failed attempt while Redis is away.
RETRY_LINES = {
    "fetch": "WARNING fetch: redis",
    "listener": "WARNING listener: redis",
    "heartbeat": "WARNING heartbeat: redis",
    "cleaner": "cleaner WARNING redis unavailable",
}


@dataclass
class Stack:
    """A private Redis, a manager on it, and room for workers; all stopped after the test."""

    server: RedisServer
    state: StateManager
    procs: Procs
    http: httpx.AsyncClient
    logdir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def log_lines(self, name: str, needle: str) -> int:
        """How many lines of the ``name*.log`` files contain ``needle``."""
        return sum(
            line.count(needle)
            for path in self.logdir.glob(f"{name}*.log")
            for line in path.read_text(errors="replace").splitlines()
        )


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    server = RedisServer(free_port(), tmp_path / "redis").start()
    state = StateManager.from_url(server.url)
    await state.ensure_defaults()
    procs = Procs(server.url, tmp_path)
    port = free_port()
    manager = spawn(
        [str(MANAGER), TASKS_MODULE, "--port", str(port)],
        server.url,
        log=tmp_path / "manager.log",
    )
    procs.procs.append(manager)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)

    async def up() -> bool:
        try:
            return (await http.get("/health")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await eventually(up, within=30, what="the manager to listen")
        yield Stack(server, state, procs, http, tmp_path)
    finally:
        await http.aclose()
        procs.close()
        await state.close()
        server.stop(kill=True)


async def submit(http: httpx.AsyncClient, tid: str, seconds: float) -> httpx.Response | None:
    """POST one ``counted`` task with a client-chosen id; None when the manager is unreachable."""
    body = {"id": tid, "name": "counted", "parameters": {"seconds": seconds}}
    try:
        return await http.post("/submit-task", json=body)
    except httpx.TransportError:
        return None


async def test_redis_sigkill_and_restart_under_load(stack: Stack, tmp_path: Path) -> None:
    state, server = stack.state, stack.server
    runs = RunLog(tmp_path / "runs.log")
    for _ in range(2):
        worker_with(stack.procs, runs.env, concurrency=20)
    stack.procs.cleaner(interval=0.5)
    await live_workers(state, 2)

    # Long tasks that run right across the outage: healthy work the cleaner must leave alone.
    long_ids = [str(ULID()) for _ in range(4)]
    for tid in long_ids:
        response = await submit(stack.http, tid, 9.0)
        assert response is not None and response.status_code == 201
    await eventually(lambda: len(runs.count()) == 4, within=20, what="the long tasks to start")
    long_runs = {
        tid: str(await state.redis.hget(state.keys.task(tid), "run_id")) for tid in long_ids
    }

    acked: list[tuple[float, str]] = []
    refused: list[tuple[float, int | None]] = []
    stop = asyncio.Event()

    async def submitter() -> None:
        """A producer that keeps submitting and logs which submissions were acknowledged."""
        while not stop.is_set():
            tid = str(ULID())
            response = await submit(stack.http, tid, 0.05)
            if response is not None and response.status_code in (200, 201):
                acked.append((time.monotonic(), tid))
            else:
                refused.append(
                    (time.monotonic(), None if response is None else response.status_code)
                )
            await asyncio.sleep(0.01)  # the producer's pace, not synchronisation

    producer = asyncio.create_task(submitter())
    try:
        await eventually(lambda: len(acked) >= 50, within=20, what="50 acknowledged submits")
        server.stop(kill=True)  # SIGKILL: no shutdown save; the AOF is replayed on start
        killed_at = time.monotonic()

        # Redis stays down for two leases, until every process has failed and retried.
        def everyone_retried() -> bool:
            return (
                time.monotonic() - killed_at > 3.0
                and stack.log_lines("worker", " WARNING ") >= 6
                and stack.log_lines("cleaner", " WARNING ") >= 2
                and len([r for r in refused if r[0] > killed_at]) >= 5
            )

        await eventually(everyone_retried, within=30, what="every process to retry")
        outage = time.monotonic() - killed_at
        retries = {
            (path.name, loop): path.read_text(errors="replace").count(needle)
            for path in stack.logdir.glob("*.log")
            for loop, needle in RETRY_LINES.items()
        }
        server.start()
        restarted_at = time.monotonic()
        baseline = await state.redis.zcard(state.keys.status_index("completed"))

        async def completed_since_restart() -> bool:
            return bool(await state.redis.zcard(state.keys.status_index("completed")) > baseline)

        await eventually(
            lambda: any(at > restarted_at for at, _ in acked), within=20, what="a 2xx after restart"
        )
        first_ok = min(at for at, _ in acked if at > restarted_at) - restarted_at
        await eventually(completed_since_restart, within=30, what="a completion after restart")
        first_done = time.monotonic() - restarted_at
        first_new = next(tid for at, tid in acked if at > restarted_at)

        async def new_one_done() -> bool:
            return (await state.get_task(first_new)).status == "completed"

        await eventually(new_one_done, within=30, what="a task submitted after restart to run")
        new_done = time.monotonic() - restarted_at
        await eventually(
            lambda: len([a for a in acked if a[0] > restarted_at]) >= 50,
            within=30,
            what="50 more acknowledged submits",
        )
    finally:
        stop.set()
        await producer
    figure("Redis SIGKILL outage held", outage)
    figure("Redis restart -> first 2xx from the manager", first_ok)
    figure("Redis restart -> first task completed", first_done)
    figure("Redis restart -> first task submitted after it completed", new_done)

    # No tight reconnect loop: the loops that wait for work back off exponentially (a
    # handful of attempts per outage), the periodic ones keep their period.
    backoff_cap = 2 + math.log2(outage / 0.2)
    period_cap = 2 + outage / 0.5
    for (log, loop), n in retries.items():
        if n:
            cap = backoff_cap if loop in ("fetch", "listener") else period_cap
            assert n <= cap, (log, loop, n, cap)
    workers_total = sum(n for (log, _), n in retries.items() if log.startswith("worker"))
    figure(
        "reconnect attempts logged per worker per second of outage", workers_total / 2 / outage, ""
    )
    info = await state.redis.info("stats")
    reconnects = int(info["total_connections_received"])
    figure("connections Redis received after its restart", reconnects, "")
    assert reconnects < 100  # pools reconnect once, no churn

    # Every acknowledged submission survived the SIGKILL and ends terminal, run at least once.
    ids = [tid for _, tid in acked] + long_ids

    async def all_done() -> bool:
        tasks = await state.get_tasks(ids)
        return len(tasks) == len(ids) and all(t.status == "completed" for t in tasks)

    await eventually(all_done, within=60, interval=0.2, what="every acknowledged task done")
    starts = runs.count()
    tasks = {str(t.id): t for t in await state.get_tasks(ids, history=True)}
    assert all(starts.get(tid, 0) >= 1 for tid in ids)

    # The outage killed no worker: the cleaner and the workers recovered nobody, and the
    # long tasks finished with the run they had before Redis died.
    for tid in long_ids:
        t = tasks[tid]
        assert t.recoveries == 0 and t.errors == [], (tid, t.errors)
        assert await state.redis.hget(state.keys.task(tid), "run_id") == long_runs[tid]
        assert starts[tid] == 1
    reaped = [t for t in tasks.values() if any("lost while running" in e.message for e in t.errors)]
    assert reaped == []
    assert stack.log_lines("cleaner", "dead_workers=") == stack.log_lines(
        "cleaner", "dead_workers=0"
    )
    assert {w.alive for w in await state.workers()} == {True}


async def test_requests_while_redis_is_away_get_a_quick_503_and_store_nothing(
    stack: Stack,
) -> None:
    state, server, http = stack.state, stack.server, stack.http
    seeded = str(ULID())
    response = await submit(http, seeded, 0)
    assert response is not None and response.status_code == 201
    keys_before = await state.redis.dbsize()
    tasks_before = sum((await state.stats()).statuses.values())

    # 1. Redis killed: every read and write answers 503 at once, with a JSON reason.
    server.stop(kill=True)
    health = await http.get("/health")
    assert health.status_code == 503 and health.headers["retry-after"] == "2"
    assert health.json()["status"] == "unavailable" and health.json()["redis"] is False
    refused_ids = [str(ULID()), str(ULID())]
    requests: list[tuple[str, str, Any]] = [
        ("GET", f"/task-status/{seeded}", None),
        ("GET", "/task-list?status=submitted", None),
        ("GET", "/stats", None),
        ("GET", "/queues", None),
        ("GET", "/workers", None),
        ("GET", "/dead-letter-queue", None),
        ("POST", "/submit-task", {"id": refused_ids[0], "name": "counted"}),
        ("POST", "/submit-task", {"id": refused_ids[1], "name": "add", "parameters": {}}),
        ("POST", "/queues", {"name": "born_in_outage"}),
        ("POST", "/queues/default/pause", None),
        ("POST", f"/task/{seeded}/cancel", None),
        ("POST", "/tasks/cancel", {"task_ids": [seeded]}),
        ("PUT", "/roles/default", {"queues": ["default"]}),
    ]
    slowest = 0.0
    for method, path, body in requests:
        started = time.monotonic()
        answer = await http.request(method, path, json=body)
        took = time.monotonic() - started
        slowest = max(slowest, took)
        assert answer.status_code == 503, (method, path, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["detail"].startswith("Redis is unavailable: "), answer.text
        assert answer.headers["retry-after"] == "2"
        assert took < 2.0, (method, path, took)
    figure("503 while Redis is down: slowest of 13 reads and writes", slowest)

    server.start()

    async def healthy() -> bool:
        return (await http.get("/health")).status_code == 200

    await eventually(healthy, within=20, what="the manager to see Redis again")
    # Nothing of the refused requests was written, in part or in whole.
    assert await state.redis.dbsize() == keys_before
    assert sum((await state.stats()).statuses.values()) == tasks_before
    assert (await http.get("/queues/born_in_outage/config")).status_code == 404
    assert (await http.get(f"/task-status/{seeded}")).json()["status"] == "submitted"
    for tid in refused_ids:
        assert (await http.get(f"/task-status/{tid}")).status_code == 404
    again = await submit(http, refused_ids[0], 0)
    assert again is not None and again.status_code == 201  # the id was never used

    # 2. Redis frozen (SIGSTOP): requests cannot hang; they get 503 after the socket
    # timeout (5 s by default).
    assert server.process is not None
    frozen_id = str(ULID())
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        answers = await asyncio.gather(
            http.get("/health"), http.get("/stats"), submit(http, frozen_id, 0)
        )
        took = time.monotonic() - started
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    frozen_health, *others = answers
    assert frozen_health.status_code == 503 and frozen_health.json()["redis"] is False
    for refused in others:
        assert refused is not None and refused.status_code == 503, refused
        assert refused.json()["detail"].startswith("Redis is unavailable: ")
    assert took < 5.0 + 3.0, took
    figure("503 while Redis is frozen: health, stats and a submit, together", took)
    # A frozen Redis may still run the submit it had received: a 503 after a timeout
    # means "unknown". Retrying with the same id is safe: one task, whole, either way.
    retried = await submit(http, frozen_id, 0)
    assert retried is not None and retried.status_code in (200, 201), retried
    task = await state.get_task(frozen_id)
    assert task.status == "submitted" and task.parameters == {"seconds": 0}
    waiting = await state.list_tasks(TaskStatus.SUBMITTED, "default", limit=1000)
    assert [str(t.id) for t in waiting.items].count(frozen_id) == 1  # queued once
