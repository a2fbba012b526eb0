"""Fault suite, issue 14: every run ends in an outcome that is written whole.

The audit's faults in the worker's run/outcome path, its leases and the cleaner's stall
pass: a finish batch poisoned by one bad error message, healthy tasks stalled by a Redis
outage, the poison-pill cap bypassed by a run that dies outside its handlers, cancel
requests dropped, live workers reaped at maxmemory, a re-claimed run dropped by the end of
the old one, every routine deploy ending tasks ``stalled``, and a worker whose blocked
event loop holds its slots forever. Real Redis servers and real worker processes throughout.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any, cast

import pytest
import redis.exceptions

from jobbers.dev.redis_server import RedisServer, free_port
from jobbers.models.task import Task, TaskStatus
from jobbers.registry import load_tasks_module
from jobbers.runtime.cleaner import Cleaner, CleanerSettings
from jobbers.runtime.worker import WATCHDOG_EXIT, Run, Worker, WorkerSettings
from jobbers.store.facade import StateManager
from jobbers.store.protocol import ClaimSpec, RunOutcome
from jobbers.store.runs import ClaimedTask
from tests.conftest import TASKS_MODULE, eventually, wait_status
from tests.procs import Procs, RunLog, cleaner_with, live_workers, wait_exit, worker_with


async def heartbeat_due(state: StateManager, task_id: str) -> float:
    """The task's heartbeat deadline (ms, Redis clock), as the cleaner's stall pass reads it."""
    due = await state.redis.zscore(state.keys.heartbeat_deadlines, task_id)
    assert due is not None, "the task has no heartbeat deadline"
    return float(due)


async def outlast(due_ms: float, margin_ms: float = 500) -> None:
    """Return once the wall clock (Redis's clock on this host) is past ``due_ms``: an outage
    held until then is one in which the task's heartbeat deadline lapses."""
    await eventually(
        lambda: time.time() * 1000 > due_ms + margin_ms, within=30, what="the deadline to pass"
    )


NOOP = {"noop@1": ClaimSpec(0, 0, -1)}


async def claim(state: StateManager, worker: str, n: int, known: Any = None) -> list[ClaimedTask]:
    res = await state.claim(worker, "default", n, known or NOOP)
    assert res.status == "ok" and len(res.tasks) == n, res
    return res.tasks


async def members(state: StateManager, key: str) -> set[str]:
    return {str(member) for member in await state.redis.zrange(key, 0, -1)}


async def redis_ms(state: StateManager) -> int:
    secs, micros = await state.redis.time()
    return int(secs) * 1000 + int(micros) // 1000


# ---------------------------------------------------------------- item 1: poisoned batch


async def test_an_undecodable_error_entry_does_not_poison_its_finish_batch(
    state: StateManager,
) -> None:
    """The audit's case at the script: cjson refuses "\\udcff" halfway through a batch."""
    await state.register_worker("w1", 10_000, {"role": "default"})
    good, bad, odd = [await state.submit_task(Task(name="noop")) for _ in range(3)]
    runs = {t.id: t.run_id for t in await claim(state, "w1", 3)}
    raw = json.dumps({"attempt": 0, "kind": "error", "message": "ValueError: bad \udcff"})
    # Decodable, but with fields no TaskError could read back (NaN, a number for a text).
    strange = '{"attempt": "x", "kind": 7, "message": "odd", "traceback": {"n": NaN}}'
    out = await state.finish_many(
        [
            (str(good.id), runs[str(good.id)], RunOutcome.COMPLETED, "{}", ""),
            (str(bad.id), runs[str(bad.id)], RunOutcome.FAILED, "", raw),
            (str(odd.id), runs[str(odd.id)], RunOutcome.FAILED, "", strange),
        ]
    )
    assert [o.status for o in out] == ["completed", "failed", "failed"]
    done, failed, odd_one = await state.get_tasks(
        [str(good.id), str(bad.id), str(odd.id)], history=True
    )
    assert done.status is TaskStatus.COMPLETED and failed.status is TaskStatus.FAILED
    assert "could not be stored" in (failed.last_error or "")
    assert [(e.attempt, e.kind, e.message) for e in odd_one.errors] == [(0, "error", "odd")]
    # Both left every index of a running task: nothing is half written.
    assert await members(state, state.keys.status_index("started")) == set()
    assert await members(state, state.keys.inflight("w1")) == set()


async def test_a_lone_surrogate_in_an_error_message_fails_only_its_own_task(
    state: StateManager, start_worker: Any
) -> None:
    """A task raises ValueError(f"bad {p}") with p = "\\udcff".

    The audit's p came in through JSON parameters, which submit now refuses (a 422); task
    code can still make one (bytes decoded with ``surrogateescape``), as this task does.
    """
    await start_worker(concurrency=10)
    bad = await state.submit_task(Task(name="bad_message"))
    others = [
        await state.submit_task(Task(name="add", parameters={"a": i, "b": 1})) for i in range(5)
    ]
    failed = await wait_status(state, bad.id, "failed")
    assert failed.last_error == "ValueError: bad \ufffd"  # the surrogate, replaced
    assert failed.errors[-1].message == "ValueError: bad \ufffd"
    for i, task in enumerate(others):
        assert (await wait_status(state, task.id, "completed")).results == {"sum": i + 1}
    assert await members(state, state.keys.status_index("started")) == set()


async def test_a_refused_outcome_becomes_a_clean_failure_and_spares_its_batch(
    state: StateManager,
) -> None:
    """An outcome the script refuses every time is recorded as a failure, not retried
    for ever; the other outcome of its batch is written on its own."""
    load_tasks_module(TASKS_MODULE)
    worker = Worker(state, WorkerSettings())
    await worker.register()
    good, bad = [await state.submit_task(Task(name="noop")) for _ in range(2)]
    claimed = {t.id: t for t in await claim(state, worker.id, 2)}
    run_good, run_bad = (
        Run(claimed[str(t.id)], worker.registry["noop@1"], "default") for t in (good, bad)
    )
    ok = state.outcome_args(str(good.id), run_good.claimed.run_id, RunOutcome.COMPLETED, "{}")
    refused = (str(bad.id), run_bad.claimed.run_id, RunOutcome.RETRIED, "soon", "")  # not a delay
    await asyncio.wait_for(
        asyncio.gather(worker.runner.record(run_good, ok), worker.runner.record(run_bad, refused)),
        20,
    )
    done, failed = await state.get_tasks([str(good.id), str(bad.id)], history=True)
    assert done.status is TaskStatus.COMPLETED
    assert failed.status is TaskStatus.FAILED and failed.retry_attempt == 0
    assert "the retried outcome could not be recorded" in (failed.last_error or "")
    assert [e.kind for e in failed.errors] == ["error"]  # nothing of the refused write


# ---------------------------------------------------------------- item 2: outage and stalls


async def test_heartbeat_deadlines_move_past_an_outage_seen_on_the_redis_clock(
    state: StateManager,
) -> None:
    """The stall pass after a gap longer than expected gives the deadlines that time back."""
    await state.register_worker("w1", 10_000, {"role": "default"})
    task = await state.submit_task(Task(name="noop"))
    await claim(state, "w1", 1, {"noop@1": (300, 0, -1)})  # a 300 ms heartbeat deadline
    assert await state.mark_stalled(max_gap_ms=100) == 0  # the last pass before the outage
    start = await redis_ms(state)

    async def deadline_passed() -> bool:  # the outage: no pass, no beat, for 600 ms
        return await redis_ms(state) > start + 600

    await eventually(deadline_passed, what="the Redis clock to move on")
    assert await state.mark_stalled(max_gap_ms=100) == 0
    assert (await state.get_task(task.id)).status is TaskStatus.STARTED
    # Still judged: with no further beat the task stalls once its moved deadline passes.
    await eventually(lambda: state.mark_stalled(max_gap_ms=10_000), what="the stall")
    assert (await state.get_task(task.id)).status is TaskStatus.STALLED


async def test_the_cleaner_gives_heartbeats_back_the_time_redis_was_frozen(
    tmp_path: Path,
) -> None:
    """Redis SIGSTOPped for longer than a task's heartbeat limit: the cleaner's first pass
    after SIGCONT, already waiting when Redis resumes, does not stall a task that could
    not beat meanwhile (a frozen Redis answers late, not with an error)."""
    server = RedisServer(free_port(), tmp_path / "redis").start()
    state = StateManager.from_url(server.url)
    cleaner = Cleaner(state, CleanerSettings(lease_ms=1000))
    running = None
    try:
        await state.ensure_defaults()
        await state.register_worker("w1", 60_000, {"role": "default"})
        task = await state.submit_task(Task(name="noop"))
        [run] = await claim(state, "w1", 1, {"noop@1": (1000, 0, -1)})
        running = asyncio.create_task(cleaner.run(interval=0.2))
        await eventually(lambda: state.redis.get(f"{state.keys.prefix}stallpass"))
        assert await state.task_heartbeat(str(task.id), run.run_id) == "ok"
        assert server.process is not None
        due = await heartbeat_due(state, str(task.id))
        server.process.send_signal(signal.SIGSTOP)
        await outlast(due)  # the outage reaches past the task's heartbeat deadline
        server.process.send_signal(signal.SIGCONT)
        for _ in range(10):  # the task beats again, as a live task does once Redis is back
            assert await state.task_heartbeat(str(task.id), run.run_id) == "ok"
            await asyncio.sleep(0.2)  # the task's own pace, not synchronisation
        assert (await state.get_task(task.id)).status is TaskStatus.STARTED
    finally:
        cleaner.stop()
        if running is not None:
            await asyncio.wait_for(running, 10)
        await state.close()
        server.stop(kill=True)


async def test_a_beating_task_survives_a_redis_restart(tmp_path: Path) -> None:
    """A task that heartbeats through a Redis SIGKILL + restart completes: its heartbeat
    does not raise into its code, and the cleaner does not stall it afterwards."""
    server = RedisServer(free_port(), tmp_path / "redis").start()
    state = StateManager.from_url(server.url)
    procs = Procs(server.url, tmp_path)
    try:
        await state.ensure_defaults()
        # Every write reaches the AOF before its reply, so the kill below loses none of the
        # claim's: no wait for appendfsync everysec's second.
        await state.redis.config_set("appendfsync", "always")
        lease = {"JOBBERS_WORKER_LEASE_MS": "6000"}
        worker_with(procs, lease)
        cleaner_with(procs, 0.2, **lease)
        await live_workers(state, 1)
        task = await state.submit_task(Task(name="beater", parameters={"steps": 60, "step_s": 0.1}))

        async def beating() -> bool:
            return ((await state.get_task(task.id)).progress or 0) > 0.1

        await eventually(beating, what="the task to heartbeat")
        due = await heartbeat_due(state, str(task.id))
        server.stop(kill=True)
        await outlast(due)  # the outage reaches past the task's heartbeat deadline
        server.start()
        done = await wait_status(state, task.id, "completed", "failed", "stalled", within=30)
        assert done.status is TaskStatus.COMPLETED, (done.errors, procs.logs()[-3000:])
        assert done.results == {"steps": 60}
        assert "heartbeat not recorded" in procs.logs()
    finally:
        procs.close()
        await state.close()
        server.stop(kill=True)


# ---------------------------------------------------------------- item 4: outside the handlers


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("base", "Escape: out of band"),
        ("unprintable", "Unprintable (it could not be described"),
        ("deep", "RecursionError"),
    ],
)
async def test_a_run_that_ends_outside_the_handlers_fails_cleanly(
    state: StateManager, start_worker: Any, how: str, expected: str
) -> None:
    await start_worker()
    task = await state.submit_task(Task(name="escaper", parameters={"how": how}))
    failed = await wait_status(state, task.id, "failed", "submitted", "stalled", within=20)
    assert failed.status is TaskStatus.FAILED, failed.errors
    assert (failed.last_error or "").startswith(expected), failed.last_error
    assert failed.recoveries == 0


async def test_lost_track_recovery_is_capped_and_a_pending_cancel_wins(
    state: StateManager,
) -> None:
    """A task the worker lost track of is re-queued at most max_recoveries times, and a
    task with a pending cancel ends cancelled instead of going back on the queue."""
    worker = "w-lost"
    await state.register_worker(worker, 10_000, {"role": "default"})
    pill = await state.submit_task(Task(name="noop"))
    for round_ in range(3):
        await claim(state, worker, 1)
        beat = await state.worker_heartbeat(worker, 10_000, [], max_recoveries=2, grace_ms=0)
        assert not beat.reaped
        found = await state.get_task(pill.id)
        if round_ < 2:
            assert found.status is TaskStatus.SUBMITTED and found.recoveries == round_ + 1
    assert found.status is TaskStatus.STALLED and found.recoveries == 3
    assert "over the cap of 2" in (found.last_error or "")

    wanted = await state.submit_task(Task(name="noop"))
    await claim(state, worker, 1)
    assert await state.cancel_task(wanted.id) == "requested"
    await state.worker_heartbeat(worker, 10_000, [], max_recoveries=2, grace_ms=0)
    gone = await state.get_task(wanted.id)
    assert gone.status is TaskStatus.CANCELLED and not gone.cancel_requested
    assert "cancel was pending" in gone.errors[-1].message


# ---------------------------------------------------------------- item 5: cancel wins


async def test_a_pending_cancel_wins_over_resubmit_stop_and_stall(state: StateManager) -> None:
    worker = "w1"
    await state.register_worker(worker, 10_000, {"role": "default"})
    resubmitted, stopped, stalled = [await state.submit_task(Task(name="noop")) for _ in range(3)]
    runs = {
        t.id: t.run_id for t in await claim(state, worker, 3, {"noop@1": ClaimSpec(100, 0, -1)})
    }
    for task in (resubmitted, stopped, stalled):
        assert await state.cancel_task(task.id) == "requested"
    entry = {"attempt": 0, "kind": "interrupted", "message": "worker shut down"}
    await state.finish_many(
        [
            state.outcome_args(
                str(resubmitted.id), runs[str(resubmitted.id)], RunOutcome.RESUBMITTED, "3", entry
            ),
            state.outcome_args(
                str(stopped.id), runs[str(stopped.id)], RunOutcome.STOPPED, "", entry
            ),
        ]
    )
    await eventually(state.mark_stalled, what="the overdue heartbeat to be judged")
    for task in await state.get_tasks([str(t.id) for t in (resubmitted, stopped, stalled)]):
        assert task.status is TaskStatus.CANCELLED, (task.id, task.status)
        assert not task.cancel_requested and not task.in_dlq
    assert await members(state, state.keys.status_index("submitted")) == set()


# ---------------------------------------------------------------- item 6: maxmemory


async def test_leases_and_heartbeats_hold_at_maxmemory(tmp_path: Path) -> None:
    """At maxmemory (noeviction) a live worker keeps its lease and its task: the reaper
    does not re-queue it, and the task still heartbeats."""
    server = RedisServer(free_port(), tmp_path / "redis").start()
    state = StateManager.from_url(server.url)
    procs = Procs(server.url, tmp_path)
    try:
        await state.ensure_defaults()
        worker_with(procs, {})  # a 1.5 s lease
        cleaner_with(procs, 0.2)
        await live_workers(state, 1)
        task = await state.submit_task(Task(name="beater", parameters={"steps": 80, "step_s": 0.1}))
        first = await wait_status(state, task.id, "started")
        await state.redis.config_set("maxmemory", "1")  # over it from now on
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            await state.redis.set("probe", "x")
        before = first.heartbeat_at

        async def beat_under_oom() -> bool:
            return bool((await state.get_task(task.id)).heartbeat_at != before)

        await eventually(beat_under_oom, what="a heartbeat at maxmemory")
        # The worker renews its lease at maxmemory until it reaches two leases past the one
        # it held when the fault began: a lease that could not be renewed would have lapsed,
        # and the cleaner (every 0.2 s) would have reaped it.
        [(wid, lease_at_fault)] = cast(
            list[tuple[str, float]],
            await state.redis.zrange(state.keys.workers, 0, -1, withscores=True),
        )

        async def renewed_past() -> bool:
            lease = await state.redis.zscore(state.keys.workers, wid)
            return lease is not None and lease >= lease_at_fault + 3000

        await eventually(renewed_past, within=20, what="the lease renewed at maxmemory")
        now = await state.get_task(task.id)
        assert now.status is TaskStatus.STARTED, (now.errors, procs.logs()[-3000:])
        assert now.recoveries == 0 and now.errors == []
        assert len([w for w in await state.workers() if w.alive]) == 1
        await state.redis.config_set("maxmemory", "0")
        done = await wait_status(state, task.id, "completed", within=30)
        assert done.recoveries == 0
    finally:
        procs.close()
        await state.close()
        server.stop(kill=True)


# ---------------------------------------------------------------- item 9: the run that ends


async def test_the_end_of_an_old_run_keeps_the_new_run_of_its_task(state: StateManager) -> None:
    """Run 1 of a task is recovered and the same worker claims it again (run 2); when run 1
    ends, the worker still knows run 2 (else its heartbeat would hand run 2 back)."""
    load_tasks_module(TASKS_MODULE)
    worker = Worker(state, WorkerSettings())
    await worker.register()
    task = await state.submit_task(Task(name="counted", parameters={"seconds": 3600}))
    known = {"counted@1": ClaimSpec(0, 0, -1)}
    [first] = await claim(state, worker.id, 1, known)
    worker.runner.start(first, "default")
    run_one = worker.runs[str(task.id)]
    await state.redis.zadd(state.keys.inflight(worker.id), {str(task.id): 0})
    await state.worker_heartbeat(worker.id, 10_000, [], grace_ms=0)  # run 1 is recovered
    [second] = await claim(state, worker.id, 1, known)
    worker.runner.start(second, "default")
    run_two = worker.runs[str(task.id)]
    assert run_two is not run_one and run_one.atask and run_two.atask
    try:
        run_one.atask.cancel()  # run 1 ends; its outcome is fenced off as stale
        await asyncio.gather(run_one.atask, return_exceptions=True)
        assert worker.runs.get(str(task.id)) is run_two
        assert (await state.get_task(task.id)).status is TaskStatus.STARTED
    finally:
        run_two.atask.cancel()
        await asyncio.gather(run_two.atask, return_exceptions=True)


# ---------------------------------------------------------------- item 10: defaults


async def test_resubmits_count_as_recoveries_and_are_capped(state: StateManager) -> None:
    """A task whose runs keep getting their worker stopped (RESUBMIT, the default) ends
    stalled once past max_recoveries, like a task that keeps killing its worker."""
    worker = "w1"
    await state.register_worker(worker, 10_000, {"role": "default"})
    task = await state.submit_task(Task(name="noop"))
    entry = {"attempt": 0, "kind": "interrupted", "message": "worker shut down; resubmitted"}
    for _ in range(3):
        [run] = await claim(state, worker, 1)
        args = state.outcome_args(str(task.id), run.run_id, RunOutcome.RESUBMITTED, "2", entry)
        await state.finish_many([args])
    ended = await state.get_task(task.id)
    assert ended.status is TaskStatus.STALLED and ended.recoveries == 3
    assert "over the cap of 2" in (ended.last_error or "")


async def test_a_worker_whose_event_loop_is_blocked_exits(
    state: StateManager, procs: Procs, tmp_path: Path
) -> None:
    """A task that blocks the loop (time.sleep) past the lease: the watchdog ends the worker
    process, and the task is recovered instead of holding the slot for the whole block."""
    runs = RunLog(tmp_path / "runs.log")
    worker = worker_with(procs, runs.env)  # a 1.5 s lease
    await live_workers(state, 1)
    task = await state.submit_task(Task(name="blocker", parameters={"seconds": 60}))
    await eventually(lambda: runs.count() == {str(task.id): 1}, what="the task to block")
    assert await wait_exit(worker, within=10) == WATCHDOG_EXIT
    assert "watchdog: the event loop has not run" in procs.logs()
    cleaner_with(procs, 0.2)
    back = await wait_status(state, task.id, "submitted", within=15)
    assert back.recoveries == 1 and back.errors[-1].kind == "worker_lost"
    # The slot is free: the worker that replaces it starts the task again.
    worker_with(procs, runs.env)
    await eventually(lambda: runs.count() == {str(task.id): 2}, what="the re-run")
