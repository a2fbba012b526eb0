"""Fault suite, part A: worker processes killed, crashed and frozen for real (issue #7).

Workers are real ``jobbers.runtime.worker_main`` subprocesses with a 1.5 s lease
(``tests.procs.FAST``). The ``counted`` task logs its own runs to a file
(``tests.procs.RunLog``), so "ran at least once" never relies on jobbers' records.
``docs/reliability.md`` maps each test to the protection it checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from jobbers.models.queue import QueueConfig, Role
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from jobbers.store.protocol import ClaimResult
from tests.conftest import eventually, wait_status
from tests.procs import (
    Procs,
    RunLog,
    cleaner_with,
    figure,
    inflight_keys,
    live_workers,
    worker_with,
)

QUEUES = ("ka", "kb", "kc")
N_TASKS = 1000
STATUSES = [s.value for s in TaskStatus if s.value != "unsubmitted"]


async def redis_minute(state: StateManager) -> int:
    """The current minute of the Redis clock, as the ``m:{queue}:{minute}`` keys count it."""
    sec, _ = await state.redis.time()
    return int(sec) // 60


async def redis_now(state: StateManager) -> dt.datetime:
    """The Redis clock, which stamps every history entry."""
    sec, usec = await state.redis.time()
    return dt.datetime.fromtimestamp(int(sec) + int(usec) / 1e6, dt.UTC)


async def held_by(state: StateManager, workers: Iterable[str]) -> list[str]:
    """The task ids in the in-flight records of ``workers``."""
    ids: list[str] = []
    for wid in workers:
        ids += [str(tid) for tid in await state.redis.zrange(state.keys.inflight(wid), 0, -1)]
    return ids


async def until_moved(
    state: StateManager, ids: list[str], dead: set[str], since: float, within: float = 30
) -> tuple[float, float, dt.datetime]:
    """Seconds from ``since`` until the first and the last of ``ids`` left the dead workers,
    and the Redis clock when the first was seen to.

    A task leaves a dead worker when a live one claims it again (the claim rewrites its
    ``worker`` field), which is the moment the recovered task starts running again.
    """
    pending = set(ids)
    first: float | None = None
    first_clock: dt.datetime | None = None
    deadline = time.monotonic() + within
    while pending:
        assert time.monotonic() < deadline, f"{len(pending)} tasks never left the dead workers"
        order = sorted(pending)
        pipe = state.redis.pipeline(transaction=False)
        for tid in order:
            pipe.hget(state.keys.task(tid), "worker")
        owners = await pipe.execute()
        now = time.monotonic() - since
        for tid, owner in zip(order, owners, strict=True):
            if owner not in dead:
                pending.discard(tid)
                first = now if first is None else first
        if first is not None and first_clock is None:
            first_clock = await redis_now(state)
        await asyncio.sleep(0.01)
    assert first is not None and first_clock is not None
    return first, time.monotonic() - since, first_clock


async def assert_counters_match_a_recount(
    state: StateManager, tasks: list[Task], minutes: range
) -> None:
    """Every counter jobbers keeps equals a recount from the per-task records.

    Counters: ``/stats`` (status counts, per-queue depth/running/scheduled/dlq/counts,
    completed and failed in the last hour from the ``m:*`` minute hashes), the ``all``
    indexes, and the raw ``m:{queue}:{minute}`` submitted/started/completed fields.
    """
    k = state.keys
    by_queue_status = Counter((t.queue, t.status.value) for t in tasks)
    by_status = Counter(t.status.value for t in tasks)
    claims = Counter[str]()
    for t in tasks:
        claims[t.queue] += 1 + t.recoveries + t.retry_attempt
    stats = await state.stats(minutes=120)
    assert {s: stats.statuses[s] for s in STATUSES} == {s: by_status[s] for s in STATUSES}
    assert stats.dlq == sum(t.in_dlq for t in tasks)
    assert await state.redis.zcard(k.all_index()) == len(tasks)
    for row in stats.queues:
        q = row.name
        mine = [t for t in tasks if t.queue == q]
        assert row.counts == {s: by_queue_status[(q, s)] for s in STATUSES}, q
        assert row.depth == by_queue_status[(q, "submitted")]
        assert row.running == by_queue_status[(q, "started")]
        assert row.scheduled == by_queue_status[(q, "scheduled")]
        assert row.dlq == sum(t.in_dlq for t in mine)
        assert row.completed_1h == by_queue_status[(q, "completed")], q
        assert row.failed_1h == by_queue_status[(q, "failed")] + by_queue_status[(q, "stalled")]
        assert await state.redis.zcard(k.all_index(q)) == len(mine)
        minute = Counter[str]()
        for m in minutes:
            for field, value in (await state.redis.hgetall(f"{k.prefix}m:{q}:{m}")).items():
                minute[str(field)] += int(value)
        assert minute["submitted"] == len(mine), (q, minute)
        assert minute["started"] == claims[q], (q, minute)  # one claim per run
        assert minute["completed"] == by_queue_status[(q, "completed")], (q, minute)


@contextlib.asynccontextmanager
async def watch_commands(url: str) -> AsyncIterator[list[str]]:
    """Every command Redis executes while the block runs (MONITOR), as text."""
    client = Redis.from_url(url, decode_responses=True)
    seen: list[str] = []
    try:
        async with client.monitor() as monitor:

            async def read() -> None:
                async for command in monitor.listen():
                    seen.append(command["command"])

            reader = asyncio.create_task(read())
            try:
                yield seen
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
    finally:
        await client.aclose()


async def test_sigkill_one_then_all_workers_mid_batch(
    state: StateManager, procs: Procs, tmp_path: Path
) -> None:
    for q in QUEUES:
        await state.create_queue(QueueConfig(name=q))
    await state.create_role(Role(name="kills", queues=list(QUEUES)))
    runs = RunLog(tmp_path / "runs.log")
    first_three = [worker_with(procs, runs.env, "kills", 15) for _ in range(3)]
    await live_workers(state, 3)
    worker_of = {w.pid: w.id for w in await state.workers()}
    minute_from = await redis_minute(state)
    ids = []
    for i in range(N_TASKS):
        task = Task(name="counted", queue=QUEUES[i % len(QUEUES)], parameters={"seconds": 0.3})
        ids.append(str((await state.submit_task(task)).id))

    async def completed() -> int:
        return int(await state.redis.zcard(state.keys.status_index("completed")))

    # 1. SIGKILL one worker of three in the middle of the batch: its live peers recover it.
    await eventually(lambda: _at_least(completed, 100), within=60, what="100 tasks done")
    victim = first_three[0]
    victim_id = worker_of[victim.pid]
    victim.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    killed_clock = await redis_now(state)
    victim.wait(timeout=5)
    held_one = await held_by(state, [victim_id])
    assert held_one, "the victim held running tasks when it was killed"
    first, last, rerun_clock = await until_moved(state, held_one, {victim_id}, killed_at)
    figure("recovery, 1 of 3 workers SIGKILLed: kill -> first task running again", first)
    figure("recovery, 1 of 3 workers SIGKILLed: kill -> all its tasks running again", last)
    assert last < 10

    # 2. SIGKILL every worker: nothing runs until fresh workers start and recover the rest.
    assert await completed() < N_TASKS - 100, "the batch ended before the second kill"
    for proc in first_three[1:]:
        proc.send_signal(signal.SIGKILL)
    for proc in first_three[1:]:
        proc.wait(timeout=5)
    all_killed_clock = await redis_now(state)
    dead = set(worker_of.values())
    held_all = await held_by(state, dead)
    assert held_all, "the killed workers held running tasks"
    fresh = [worker_with(procs, runs.env, "kills", 15) for _ in range(2)]
    restarted_at = time.monotonic()
    first, last, _ = await until_moved(state, held_all, dead, restarted_at)
    figure("recovery, all workers SIGKILLed: fresh start -> first task running again", first)
    figure("recovery, all workers SIGKILLed: fresh start -> all tasks running again", last)

    await eventually(
        lambda: _at_least(completed, N_TASKS), within=90, interval=0.2, what="every task done"
    )
    minute_to = await redis_minute(state)

    # Every task ended terminal, ran at least once by its own count, and the result
    # stored is the one of a run that really finished.
    tasks = await state.get_tasks(ids, history=True)
    assert len(tasks) == N_TASKS
    assert Counter(t.status.value for t in tasks) == {"completed": N_TASKS}
    starts, ends = runs.count("start"), runs.count("end")
    finished_runs = {(tid, run) for tid, tag, run, _ in runs.events() if tag == "end"}
    recovered = Counter(held_one) + Counter(held_all)
    by_id = {str(t.id): t for t in tasks}
    requeued = min(by_id[tid].errors[0].at or all_killed_clock for tid in held_one)
    figure(
        "recovery, 1 of 3 workers SIGKILLed: kill -> re-queued by a peer",
        (requeued - killed_clock).total_seconds(),
    )
    # Recovered tasks go to the front of their queue and run next, not after the backlog
    # (800 tasks of 0.3 s here) or behind the role's other queues.
    waited = (rerun_clock - requeued).total_seconds()
    figure("recovery, 1 of 3 workers SIGKILLed: re-queued -> running again", waited)
    assert waited < 1.5, waited
    for t in tasks:
        tid = str(t.id)
        assert starts.get(tid, 0) >= 1 and ends.get(tid, 0) >= 1, tid
        assert starts[tid] <= 1 + t.recoveries, (tid, starts[tid], t.recoveries)
        assert t.recoveries == recovered[tid], tid  # exactly the tasks the dead held
        assert t.retry_attempt == 0
        assert [e.kind for e in t.errors] == ["worker_lost"] * t.recoveries
        assert t.results is not None and (tid, t.results["run_id"]) in finished_runs

    # Nothing is left behind in any in-flight record, heartbeat index or fleet entry.
    assert await inflight_keys(state) == []
    assert await state.redis.zcard(state.keys.heartbeat_deadlines) == 0
    live = await state.workers()
    assert {w.pid for w in live} == {p.pid for p in fresh} and all(w.alive for w in live)
    for wid in dead:
        assert not await state.redis.exists(state.keys.worker(wid))

    await assert_counters_match_a_recount(state, tasks, range(minute_from, minute_to + 1))


async def _at_least(count: Any, n: int) -> bool:
    return bool(await count() >= n)


@pytest.fixture
def runs(tmp_path: Path) -> RunLog:
    """Where this test's ``counted`` tasks log their runs."""
    return RunLog(tmp_path / "runs.log")


async def claimed_by(state: StateManager, worker: str, lease_ms: int) -> tuple[Task, ClaimResult]:
    """A ``counted`` task claimed by a worker registered by hand, with nothing to run it:
    the runtime verbs a worker process would call, without the process."""
    task = await state.submit_task(Task(name="counted", parameters={"seconds": 0}))
    await state.register_worker(worker, lease_ms, {"role": "default", "pid": 0})
    claim = await state.claim(worker, "default", 1, {"counted@1": (0, 0, -1)})
    assert claim.status == "ok" and [c.id for c in claim.tasks] == [str(task.id)]
    return task, claim


async def test_a_claim_that_is_never_run_is_recovered_and_runs(
    state: StateManager, procs: Procs, runs: RunLog
) -> None:
    # A worker that crashes right after its claim: registered and claimed through the
    # worker's own runtime verbs, then never runs the task and never beats again.
    ghost = "ghost-crashed-after-claim"
    task, claim = await claimed_by(state, ghost, lease_ms=1000)
    assert (await state.get_task(task.id)).status == "started"

    worker_with(procs, runs.env)
    procs.cleaner(interval=0.3)
    done = await wait_status(state, task.id, "completed", within=30)
    assert done.recoveries == 1
    assert [e.kind for e in done.errors] == ["worker_lost"] and ghost in done.errors[0].message
    assert done.results is not None and done.results["run_id"] != claim.tasks[0].run_id
    assert runs.count() == {str(task.id): 1}  # the ghost never ran it; the recovery did
    assert not await state.redis.exists(state.keys.inflight(ghost), state.keys.worker(ghost))
    assert ghost not in {w.id for w in await state.workers()}


async def test_a_claim_whose_reply_was_lost_is_requeued_by_its_owner(
    state: StateManager, procs: Procs, runs: RunLog
) -> None:
    # The claim happened in Redis but its reply never reached the (live) worker: the
    # worker keeps beating with no run for that task, and its own beat must give it back.
    owner = "alive-but-lost-the-reply"
    task, claim = await claimed_by(state, owner, lease_ms=60_000)
    await state.scripts.run("worker_beat", owner, 60_000, "beat", "{}", "[]", 0)
    back = await state.get_task(task.id)
    assert back.status == "submitted" and back.recoveries == 1
    assert back.errors[-1].kind == "worker_lost" and "lost track" in back.errors[-1].message

    worker_with(procs, runs.env)
    done = await wait_status(state, task.id, "completed", within=30)
    assert done.results is not None and done.results["run_id"] != claim.tasks[0].run_id
    assert runs.count() == {str(task.id): 1}
    assert await state.redis.zcard(state.keys.inflight(owner)) == 0


async def test_a_task_that_kills_every_worker_ends_stalled_in_the_dlq(
    state: StateManager, procs: Procs
) -> None:
    cap = {"JOBBERS_MAX_RECOVERIES": "2"}
    cleaner_with(procs, 0.3, **cap)
    pill = await state.submit_task(Task(name="suicide", parameters={"mark": "pill"}))
    current = worker_with(procs, cap)
    deaths = 0

    async def supervise() -> Task | None:
        """What a process supervisor does: restart the worker whenever it dies."""
        nonlocal current, deaths
        if current.poll() is not None:
            assert current.returncode == -signal.SIGKILL
            deaths += 1
            current = worker_with(procs, cap)
        found = await state.get_task(pill.id)
        return found if found.status == "stalled" else None

    stalled = await eventually(supervise, within=90, interval=0.1, what="the pill to stall")
    assert stalled.recoveries == 3
    assert [e.kind for e in stalled.errors] == ["worker_lost"] * 3
    assert "over the cap of 2" in (stalled.last_error or "")
    assert stalled.in_dlq
    assert [str(t.id) for t in (await state.list_dlq()).items] == [str(pill.id)]
    assert int(await state.redis.get("test:started:pill") or 0) == 3

    # The fleet stays up: the supervised worker runs ordinary work and nothing else dies.
    await supervise()
    after = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 2}))
    assert (await wait_status(state, after.id, "completed", within=30)).results == {"sum": 3}
    assert current.poll() is None
    assert deaths == 3


async def test_a_frozen_workers_late_result_is_fenced_off(
    state: StateManager, procs: Procs, clean_redis: str
) -> None:
    frozen = procs.worker()
    await live_workers(state, 1)
    task = await state.submit_task(Task(name="zombie", parameters={"mark": "z", "seconds": 1}))
    await eventually(lambda: state.redis.get("test:runs:z"), what="the first run to start")
    first_run = str(await state.redis.hget(state.keys.task(str(task.id)), "run_id"))
    os.kill(frozen.pid, signal.SIGSTOP)  # frozen past its lease: a GC pause, a partition
    try:
        peer = procs.worker()

        async def rerun() -> str | None:
            fields = await state.redis.hmget(state.keys.task(str(task.id)), "status", "run_id")
            run = str(fields[1])
            return run if fields[0] == "started" and run != first_run else None

        second_run = await eventually(rerun, within=30, what="the peer to re-run the task")
        async with watch_commands(clean_redis) as seen:
            os.kill(frozen.pid, signal.SIGCONT)

            # The thawed worker's first run returns and sends its result, tagged with the
            # run id it claimed with, while the re-run is still going.
            def late_result_sent() -> bool:
                return any(str(task.id) in c and first_run in c and "complete" in c for c in seen)

            await eventually(late_result_sent, within=20, what="the late result to be sent")
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    assert await state.redis.get("test:late:z") == str(frozen.pid)
    during = await state.redis.hmget(state.keys.task(str(task.id)), "status", "run_id")
    assert during == ["started", second_run], "the late result overwrote the re-run"

    await state.redis.rpush("test:release:z", "go")
    done = await wait_status(state, task.id, "completed", within=20)
    assert done.results == {"run": 2, "pid": peer.pid}  # the re-run's result stands
    assert done.recoveries == 1 and [e.kind for e in done.errors] == ["worker_lost"]
    minute = await redis_minute(state)
    counts = [
        await state.redis.hget(f"{state.keys.prefix}m:default:{m}", "completed")
        for m in (minute - 1, minute)
    ]
    assert sum(int(c or 0) for c in counts) == 1  # one terminal transition
    assert frozen.poll() is None  # the thawed worker lives on


async def test_a_busy_queue_does_not_starve_the_other_queues_of_its_role(
    state: StateManager, procs: Procs
) -> None:
    # Recovered tasks go back to their own queue; a peer busy on another queue of the
    # role must still get to them. The worker takes the role's queues in turn.
    for q in ("busy", "quiet"):
        await state.create_queue(QueueConfig(name=q))
    await state.create_role(Role(name="pair", queues=["busy", "quiet"]))
    procs.worker(role="pair", concurrency=4)
    await live_workers(state, 1)
    for _ in range(60):
        await state.submit_task(Task(name="counted", queue="busy", parameters={"seconds": 0.2}))

    async def busy_running() -> bool:
        return bool(await state.redis.zcard(state.keys.status_index("started", "busy")) >= 4)

    await eventually(busy_running, what="the worker to fill up on the busy queue")
    quiet = [
        await state.submit_task(Task(name="counted", queue="quiet", parameters={"seconds": 0}))
        for _ in range(4)
    ]
    for t in quiet:
        await wait_status(state, t.id, "completed", within=20)
    left = {q.name: q.depth for q in (await state.stats()).queues}["busy"]
    assert left >= 30, f"the quiet queue waited until the busy one had {left} tasks left"
