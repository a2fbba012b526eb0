"""Real jobbers_worker, jobbers_scheduler and jobbers_cleaner subprocesses, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobbers.models.queue import QueueConfig, RatePeriod, Role
from jobbers.models.task import Task
from jobbers.runtime.cleaner import Cleaner
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status
from tests.procs import Procs, live_workers, running_alone, wait_exit


def test_console_scripts_are_installed() -> None:
    bindir = Path(sys.executable).parent
    for script in (
        "jobbers",
        "jobbers_manager",
        "jobbers_worker",
        "jobbers_scheduler",
        "jobbers_cleaner",
    ):
        assert (bindir / script).exists(), script
    out = subprocess.run([str(bindir / "jobbers_worker"), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "WORKER_ROLE" in out.stdout


def test_worker_with_a_bad_module_exits_2_with_one_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "jobbers.runtime.worker_main", str(tmp_path / "nope.py")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr


async def test_end_to_end_worker_and_scheduler(state: StateManager, procs: Procs) -> None:
    procs.worker()
    procs.scheduler()
    await live_workers(state, 1)
    add = await state.submit_task(Task(name="add", parameters={"a": 40, "b": 2}))
    retried = await state.submit_task(Task(name="flaky_delayed", parameters={"succeed_on": 1}))
    boom = await state.submit_task(Task(name="boom"))
    assert (await wait_status(state, add.id, "completed")).results == {"sum": 42}
    scheduled = await wait_status(state, retried.id, "scheduled")
    done = await wait_status(state, retried.id, "completed", within=10)
    assert done.results == {"attempt": 1}
    # The scheduler wakes at the due time: the retry starts within ~100 ms of due.
    assert scheduled.scheduled_for is not None and done.started_at is not None
    lateness = (done.started_at - scheduled.scheduled_for).total_seconds()
    assert -0.01 <= lateness < 0.25, lateness
    assert (await wait_status(state, boom.id, "failed")).in_dlq


async def test_two_schedulers_never_promote_twice(state: StateManager, procs: Procs) -> None:
    procs.scheduler()
    procs.scheduler()
    procs.worker()
    await live_workers(state, 1)
    ids = [
        (await state.submit_task(Task(name="flaky_delayed", parameters={"succeed_on": 1}))).id
        for _ in range(30)
    ]
    for tid in ids:
        done = await wait_status(state, tid, "completed", within=20)
        assert done.retry_attempt == 1 and len(done.errors) == 1


async def test_sigkill_mid_batch_loses_nothing(state: StateManager, procs: Procs) -> None:
    victim = procs.worker(concurrency=20)
    await live_workers(state, 1)
    ids = [
        str(
            (
                await state.submit_task(
                    Task(name="sleeper", parameters={"seconds": 0.5, "mark": i})
                )
            ).id
        )
        for i in range(60)
    ]
    await eventually(lambda: state.redis.zcard(state.keys.status_index("started")), what="running")
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=5)
    procs.worker(concurrency=20)  # a live peer recovers the dead worker's tasks

    async def all_done() -> bool:
        tasks = await state.get_tasks(ids)
        return all(t.status == "completed" for t in tasks)

    await eventually(all_done, within=30, what="every task completed")
    tasks = await state.get_tasks(ids, history=True)
    recovered = [t for t in tasks if t.recoveries]
    assert recovered, "the killed worker held running tasks"
    for t in recovered:
        assert t.recoveries == 1 and t.retry_attempt == 0
        assert t.errors[-1].kind == "worker_lost"
    runs = await state.redis.mget([f"test:ran:{i}" for i in range(60)])
    assert all(r is not None and int(r) >= 1 for r in runs)  # at least once, each
    assert await state.redis.zcard(state.keys.workers) == 1


async def test_poison_pill_ends_stalled_in_the_dlq(state: StateManager, procs: Procs) -> None:
    task = await state.submit_task(Task(name="suicide", parameters={"mark": "pill"}))
    cleaner = Cleaner(state)
    cleaner.settings.max_recoveries = 2
    for _ in range(3):  # the task kills every worker that runs it
        proc = procs.worker()
        assert await wait_exit(proc) == -signal.SIGKILL

        async def reaped() -> bool:
            report = await cleaner.run_once()
            return bool(report.dead_workers)

        await eventually(reaped, within=10, interval=0.2, what="dead worker reaped")
    stalled = await wait_status(state, task.id, "stalled")
    assert stalled.recoveries == 3
    assert [e.kind for e in stalled.errors] == ["worker_lost"] * 3
    assert stalled.in_dlq
    assert int(await state.redis.get("test:started:pill") or 0) == 3


async def test_cancel_running_task_within_a_second(state: StateManager, procs: Procs) -> None:
    procs.worker()
    await live_workers(state, 1)
    task = await state.submit_task(Task(name="forever", parameters={"mark": "c"}))
    await wait_status(state, task.id, "started")
    await eventually(lambda: state.redis.get("test:started:c"))
    assert await state.cancel_task(task.id) == "requested"
    t0 = time.monotonic()
    cancelled = await wait_status(state, task.id, "cancelled", within=5)
    assert time.monotonic() - t0 < 1.0
    assert cancelled.errors[-1].kind == "cancelled"
    after = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 1}))
    assert (await wait_status(state, after.id, "completed")).results == {"sum": 2}


async def test_cancel_survives_a_lost_pubsub_message(state: StateManager, procs: Procs) -> None:
    procs.worker()
    await live_workers(state, 1)
    task = await state.submit_task(Task(name="forever", parameters={"mark": "d"}))
    started = await wait_status(state, task.id, "started")
    # Write the durable request only, as if the pub/sub hint had been lost.
    await state.redis.hset(state.keys.task(str(task.id)), "cancel", "1")
    await state.redis.sadd(state.keys.cancel_box(started.worker_id or ""), str(task.id))
    await wait_status(state, task.id, "cancelled", within=5)


async def test_a_delayed_retry_of_a_capped_type_runs_on_an_idle_worker(
    state: StateManager, procs: Procs
) -> None:
    """Types are capped at one run per worker by default. The claim an idle worker sends
    ahead was computed while the failed run still held that slot; when the promoted retry
    rings, that stale claim skips it, and the worker must not then shelve the queue until
    a run ends (none would: it had no other work)."""
    procs.worker()
    procs.scheduler()
    await live_workers(state, 1)
    task = await state.submit_task(Task(name="capped_delayed", parameters={"succeed_on": 1}))
    done = await wait_status(state, task.id, "completed", within=20)
    assert done.retry_attempt == 1 and done.results == {"attempt": 1}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("forever", "stalled"), ("resubmitter", "submitted"), ("finisher", "completed")],
)
async def test_shutdown_policies(
    state: StateManager, procs: Procs, name: str, expected: str
) -> None:
    worker, task = await running_alone(state, procs, name, mark=name, seconds=1.0)
    worker.send_signal(signal.SIGTERM)
    try:
        # The logs say where the worker was if it does not exit. It once ran on for ever:
        # Python 3.11's wait_for had swallowed the cancel of a task awaiting Redis
        # (``Runner.cancel_again``); about 1 run in 10 of this test showed it.
        code = await wait_exit(worker)
    except AssertionError:
        raise AssertionError(procs.logs()) from None
    assert code == 0
    after = await state.get_task(task.id)
    assert after.status == expected, procs.logs()
    assert after.retry_attempt == 0
    assert await state.workers() == []  # deregistered: nothing left to recover
    if name == "resubmitter":
        procs.worker()  # another worker completes it
        assert (await wait_status(state, task.id, "completed")).retry_attempt == 0


async def test_second_sigterm_exits_at_once(state: StateManager, procs: Procs) -> None:
    worker, task = await running_alone(state, procs, "finisher", mark="f2", seconds=60)
    worker.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.3)  # not synchronisation: the gap between two keypresses
    worker.send_signal(signal.SIGINT)
    assert await wait_exit(worker, within=5) == 0
    assert (await state.get_task(task.id)).status == "stalled"


async def test_a_stop_signal_while_retiring_is_a_first_stop(
    state: StateManager, procs: Procs
) -> None:
    """SIGUSR1 (role deleted under ``jobbers dev``), then Ctrl-C: policies apply, no hard stop."""
    worker, task = await running_alone(state, procs, "finisher", mark="r1", seconds=1.5)
    worker.send_signal(signal.SIGUSR1)
    await eventually(lambda: "retiring (role deleted)" in procs.logs(), what="the retirement")
    worker.send_signal(signal.SIGTERM)
    assert await wait_exit(worker) == 0, procs.logs()
    assert (await state.get_task(task.id)).status == "completed"  # CONTINUE ran to its end


async def test_concurrency_layers(state: StateManager, procs: Procs) -> None:
    await state.create_queue(QueueConfig(name="narrow", max_concurrent=3))
    await state.create_queue(QueueConfig(name="wide"))
    await state.create_role(Role(name="layers", queues=["narrow", "wide"]))
    procs.worker(role="layers", concurrency=5)
    await live_workers(state, 1)
    ids = []
    for i in range(12):  # queue cap 3 (worker slots 5)
        params = {"seconds": 0.3, "group": "narrow", "mark": f"n{i}"}
        ids.append(
            (await state.submit_task(Task(name="sleeper", queue="narrow", parameters=params))).id
        )
    for i in range(8):  # task cap 2, on a queue without a cap
        params = {"seconds": 0.3, "group": "capped", "mark": f"c{i}"}
        ids.append(
            (await state.submit_task(Task(name="capped", queue="wide", parameters=params))).id
        )
    for i in range(15):  # worker slots: 5 at most overall
        params = {"seconds": 0.3, "group": "all", "mark": f"w{i}"}
        ids.append(
            (await state.submit_task(Task(name="sleeper", queue="wide", parameters=params))).id
        )
    for tid in ids:
        await wait_status(state, tid, "completed", within=30)
    assert int(await state.redis.get("test:peak:narrow") or 0) == 3
    assert int(await state.redis.get("test:peak:capped") or 0) == 2
    assert 1 <= int(await state.redis.get("test:peak:all") or 0) <= 5


async def test_worker_slots_cap_the_worker(state: StateManager, procs: Procs) -> None:
    procs.worker(concurrency=4)
    await live_workers(state, 1)
    ids = [
        (
            await state.submit_task(
                Task(name="sleeper", parameters={"seconds": 0.3, "group": "slots"})
            )
        ).id
        for _ in range(16)
    ]
    for tid in ids:
        await wait_status(state, tid, "completed", within=30)
    assert int(await state.redis.get("test:peak:slots") or 0) == 4


async def test_rate_limit_spreads_a_burst_without_loss(state: StateManager, procs: Procs) -> None:
    await state.create_queue(
        QueueConfig(
            name="limited", rate_numerator=5, rate_denominator=1, rate_period=RatePeriod.SECOND
        )
    )
    await state.create_role(Role(name="rl", queues=["limited"]))
    procs.worker(role="rl", concurrency=20)
    procs.worker(role="rl", concurrency=20)
    await live_workers(state, 2)
    ids = [(await state.submit_task(Task(name="noop", queue="limited"))).id for _ in range(15)]
    done = [await wait_status(state, tid, "completed", within=20) for tid in ids]
    starts = sorted(t.started_at.timestamp() for t in done if t.started_at)
    assert len(starts) == 15
    for i in range(len(starts) - 5):  # never more than 5 starts in any 1 s window
        assert starts[i + 5] - starts[i] >= 0.99, starts
    assert starts[-1] - starts[0] >= 1.99  # 15 at 5/s spread over at least 2 s


async def test_role_change_reaches_an_idle_worker_within_a_second(
    state: StateManager, procs: Procs
) -> None:
    await state.create_queue(QueueConfig(name="later"))
    await state.create_role(Role(name="mover", queues=["default"]))
    procs.worker(role="mover")
    await live_workers(state, 1)
    task = await state.submit_task(Task(name="noop", queue="later"))
    await state.put_role(Role(name="mover", queues=["default", "later"]))
    t0 = time.monotonic()
    await wait_status(state, task.id, "completed", within=3)
    assert time.monotonic() - t0 < 1.0


async def test_paused_queue_holds_tasks_until_resumed(state: StateManager, procs: Procs) -> None:
    procs.worker()
    await live_workers(state, 1)
    await state.set_queue_paused("default", True)
    ids = [(await state.submit_task(Task(name="noop"))).id for _ in range(5)]
    probe = await state.submit_task(Task(name="noop"))
    with pytest.raises(AssertionError):
        await wait_status(state, probe.id, "completed", within=1.5)
    assert (await state.stats()).queues[0].depth == 6
    await state.set_queue_paused("default", False)
    for tid in [*ids, probe.id]:
        await wait_status(state, tid, "completed", within=5)


async def test_stalled_heartbeat_is_detected_by_the_cleaner(
    state: StateManager, procs: Procs
) -> None:
    procs.worker()
    procs.cleaner(interval=0.3)
    await live_workers(state, 1)
    task = await state.submit_task(
        Task(name="beater", parameters={"steps": 2, "step_s": 0.05, "hang": True})
    )
    stalled = await wait_status(state, task.id, "stalled", within=10)
    assert stalled.errors[-1].kind == "stalled"
    assert "no heartbeat within 1s" in (stalled.last_error or "")
    # The worker stopped its copy and stays healthy.
    after = await state.submit_task(Task(name="noop"))
    await wait_status(state, after.id, "completed")

    async def empty() -> bool:
        workers = await state.workers()
        return bool(workers) and workers[0].in_flight == []

    await eventually(empty)


async def test_frozen_worker_cannot_overwrite_the_rerun(state: StateManager, procs: Procs) -> None:
    frozen = procs.worker()
    await live_workers(state, 1)
    task = await state.submit_task(Task(name="finisher", parameters={"mark": "z", "seconds": 1.5}))
    await wait_status(state, task.id, "started")
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        procs.worker()  # the peer reaps the frozen worker and re-runs the task
        done = await wait_status(state, task.id, "completed", within=20)
        assert done.recoveries == 1
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    # The thawed worker's late outcome is fenced off: exactly one terminal transition.
    first_done = done.completed_at
    # It learns either way: its outcome is fenced ("stale"), its heartbeat hears it was
    # declared dead, or the claim it sent before the freeze answers "dead" first.
    noticed = ("stale", "declared dead", "lease lapsed")
    await eventually(lambda: any(word in procs.logs() for word in noticed), within=10)
    after = await state.get_task(task.id)
    assert after.status == "completed" and after.completed_at == first_done
    assert after.recoveries == 1


async def test_task_that_swallows_cancellation_cannot_hold_the_worker(
    state: StateManager, procs: Procs
) -> None:
    worker, task = await running_alone(state, procs, "stubborn", mark="st")
    worker.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.3)  # not synchronisation: the gap between two keypresses
    worker.send_signal(signal.SIGTERM)
    assert await wait_exit(worker, within=12) == 0
    # The task is not lost: the worker ended its lease on exit, so a pass recovers it.
    report = await Cleaner(state).run_once()
    assert report.dead_workers == 1 and report.requeued == 1
    back = await state.get_task(task.id)
    assert back.status == "submitted" and back.errors[-1].kind == "worker_lost"
