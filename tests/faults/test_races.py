"""Races: one id submitted fifty times at once, and two schedulers promoting 10,000 retries.

Runs are counted by the ``tally`` sample task in another Redis DB, so "ran once" never
relies on jobbers' own records.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from jobbers.models.queue import QueueConfig, Role
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from jobbers.store.protocol import RunOutcome
from tests.conftest import eventually, wait_status
from tests.procs import (
    Procs,
    blocked_on_bzpopmin,
    figure,
    fresh_counts,
    keyspace,
    live_workers,
)
from tests.server.conftest import client_for, make_app, new_id

STATUSES = [s.value for s in TaskStatus if s != TaskStatus.UNSUBMITTED]


@pytest.fixture
async def counts(clean_redis: str) -> AsyncIterator[Any]:
    """The count DB of the ``tally`` task, emptied."""
    client = await fresh_counts(clean_redis)
    yield client
    await client.aclose()


async def minute_counters(state: StateManager, queue: str) -> dict[str, int]:
    """The per-minute dashboard counters of ``queue`` over the last five minutes, summed."""
    now_s, _ = await state.redis.time()
    minute = int(now_s) // 60
    totals: dict[str, int] = {}
    for m in range(minute - 5, minute + 1):
        for field, value in (
            await state.redis.hgetall(f"{state.keys.prefix}m:{queue}:{m}")
        ).items():
            totals[str(field)] = totals.get(str(field), 0) + int(value)
    return totals


async def index_sizes(state: StateManager, queue: str | None = None) -> dict[str, int]:
    """Every status index's size, read in one transaction (a consistent snapshot)."""
    pipe = state.redis.pipeline(transaction=True)
    for status in STATUSES:
        pipe.zcard(state.keys.status_index(status, queue))
    pipe.hgetall(state.keys.waiting_counts)  # fresh tasks wait compact, in no index
    *sizes, compact = await pipe.execute()
    found = dict(zip(STATUSES, sizes, strict=True))
    found["submitted"] += sum(int(n) for q, n in compact.items() if queue in (None, q))
    return found


# ---------------------------------------------------------------- one id, fifty submits


async def test_fifty_concurrent_submits_of_one_id_make_one_task_that_runs_once(
    state: StateManager,
    start_worker: Callable[..., Any],
    counts: Any,
    clean_redis: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", clean_redis)  # where the in-process run counts itself
    await state.create_queue(QueueConfig(name="other"))
    worker = await start_worker()
    tid = new_id()
    body = {"id": tid, "name": "tally", "parameters": {"mark": "once"}}
    async with client_for(make_app(clean_redis, state)) as client:
        answers = await asyncio.gather(*(client.post("/submit-task", json=body) for _ in range(50)))
        assert sorted(a.status_code for a in answers) == [200] * 49 + [201]
        for answer in answers:
            task = answer.json()["task"]
            assert (task["id"], task["name"], task["parameters"]) == (
                tid,
                "tally",
                {"mark": "once"},
            )

        await wait_status(state, tid, "completed")
        assert await counts.hgetall("runs") == {"once": "1"}
        # Nothing else waits or runs: a duplicate enqueue would show here or have run.
        sizes = await index_sizes(state)
        assert sizes == {**dict.fromkeys(STATUSES, 0), "completed": 1}, sizes
        assert await state.redis.zcard(state.keys.all_index()) == 1
        counters = await minute_counters(state, "default")
        assert (counters.get("submitted"), counters.get("started")) == (1, 1), counters

        # The same id with other content: 409 naming the task, and not one byte changes.
        worker.request_shutdown()
        await eventually(lambda: _no_workers(state), what="the worker to deregister")
        before = keyspace(clean_redis)
        for other in (
            {**body, "parameters": {"mark": "twice"}},
            {**body, "name": "noop"},
            {**body, "queue": "other"},
            {**body, "parameters": {}},
        ):
            answer = await client.post("/submit-task", json=other)
            assert answer.status_code == 409, answer.text
            assert tid in answer.json()["detail"]
            assert keyspace(clean_redis) == before
        assert (await state.get_task(tid)).parameters == {"mark": "once"}
        assert await counts.hgetall("runs") == {"once": "1"}


async def _no_workers(state: StateManager) -> bool:
    return await state.workers() == []


# ---------------------------------------------------------------- two schedulers, one killed

DELAYED = 10_000
SPREAD_MS = 3_000  # due times spread over 3 s, so promotion is under way when one dies


async def seed_retries(state: StateManager, n: int, first_ms: int, spread_ms: int) -> list[str]:
    """``n`` ``tally`` tasks waiting for a retry, due over ``spread_ms`` after ``first_ms``.

    A task becomes ``scheduled`` only as a retry with a delay, so they are claimed and
    failed by the verbs a worker uses (claim, then a ``retry`` outcome), nothing else.
    """
    for start in range(0, n, 250):
        batch = [Task(name="tally", parameters={"mark": i}) for i in range(start, start + 250)]
        await asyncio.gather(*(state.submit(t) for t in batch[: n - start]))
    await state.register_worker("seeder", 600_000, {"role": "seeder", "queues": "[]"})
    ids: list[str] = []
    while len(ids) < n:
        res = await state.claim("seeder", "default", 1000, {"tally@1": (0, 0, -1)}, 1000)
        assert res.status == "ok" and res.tasks, res
        outcomes = []
        for run in res.tasks:
            delay = first_ms + len(ids) * spread_ms // n
            entry = {"attempt": 0, "kind": "error", "message": "seeded", "worker_id": "seeder"}
            outcomes.append(
                state.outcome_args(run.id, run.run_id, RunOutcome.RETRIED, str(delay), entry)
            )
            ids.append(run.id)
        for i in range(0, len(outcomes), 500):
            assert all(
                o.status == "scheduled" for o in await state.finish_many(outcomes[i : i + 500])
            )
    await state.deregister_worker("seeder")
    return ids


async def test_two_schedulers_promote_each_retry_once_when_one_is_killed(
    state: StateManager, procs: Procs, counts: Any
) -> None:
    started = time.monotonic()
    await state.create_role(Role(name="late", queues=[]))  # workers idle while we seed
    victim, survivor = procs.scheduler(), procs.scheduler()
    procs.worker(role="late", concurrency=50)
    procs.worker(role="late", concurrency=50)
    await live_workers(state, 2)
    await blocked_on_bzpopmin(state, 2)  # both schedulers wait (the workers have no queue)
    ids = await seed_retries(state, DELAYED, 1_000, SPREAD_MS)
    await state.put_role(Role(name="late", queues=["default"]))

    # Every task sits in exactly one status index at every instant; kill one scheduler
    # once about half the retries are promoted.
    killed_at: int | None = None
    totals: set[int] = set()

    async def drained() -> bool:
        nonlocal killed_at
        sizes = await index_sizes(state)
        totals.add(sum(sizes.values()))
        if killed_at is None and sizes["scheduled"] <= DELAYED // 2:
            victim.send_signal(signal.SIGKILL)
            killed_at = sizes["scheduled"]
        return sizes["completed"] == DELAYED

    await eventually(drained, within=90, interval=0.05, what="every retry completed")
    assert victim.wait(timeout=5) == -signal.SIGKILL and survivor.poll() is None
    assert killed_at is not None and 0 < killed_at < DELAYED, killed_at
    assert totals == {DELAYED}, totals

    runs = await counts.hgetall("runs")
    assert len(runs) == DELAYED and set(runs.values()) == {"1"}, _repeats(runs)
    assert await index_sizes(state) == {**dict.fromkeys(STATUSES, 0), "completed": DELAYED}
    assert await index_sizes(state, "default") == await index_sizes(state)
    tasks = await state.get_tasks(ids)
    assert {(t.status, t.retry_attempt) for t in tasks} == {("completed", 1)}
    counters = await minute_counters(state, "default")
    expected = {"submitted": DELAYED, "started": 2 * DELAYED, "retried": DELAYED}
    assert {k: counters.get(k) for k in expected} == expected, counters
    assert counters.get("completed") == DELAYED, counters
    figure(
        "two schedulers, 10k retries, one SIGKILLed: left to promote at the kill",
        killed_at,
        "tasks",
    )
    figure(
        "two schedulers, 10k retries, one SIGKILLed: seed to all completed",
        time.monotonic() - started,
    )


def _repeats(runs: dict[str, str]) -> dict[str, str]:
    return {mark: n for mark, n in runs.items() if n != "1"}
