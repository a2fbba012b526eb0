"""Fault suite, part A: cancellation and shutdown when things go wrong (issue #7).

A cancel whose pub/sub hint is lost, a task that swallows CancelledError, the three
shutdown policies on one worker, and a SIGKILL in the middle of a CONTINUE drain; all on
real ``jobbers.runtime.worker_main`` subprocesses with a 1.5 s lease.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from jobbers.models.task import Task
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status
from tests.procs import (
    Procs,
    RunLog,
    cleaner_with,
    figure,
    inflight_keys,
    live_workers,
    running_alone,
    wait_exit,
    worker_with,
)


async def subscribers(state: StateManager) -> int:
    """How many connections listen on the hint channel (the workers' listeners)."""
    [(_, count)] = await state.redis.pubsub_numsub(state.keys.events)
    return int(count)


async def started(state: StateManager, mark: str) -> int:
    """How many times the tasks marked ``mark`` started, by their own count."""
    return int(await state.redis.get(f"test:started:{mark}") or 0)


async def counting_worker(
    state: StateManager, procs: Procs, tmp_path: Path
) -> tuple[RunLog, subprocess.Popen[bytes]]:
    """One live worker whose counted tasks log their runs to a file under ``tmp_path``."""
    runs = RunLog(tmp_path / "runs.log")
    worker = worker_with(procs, runs.env)
    await live_workers(state, 1)
    return runs, worker


async def test_cancel_lands_when_the_pubsub_connection_was_killed(
    state: StateManager, procs: Procs
) -> None:
    _, task = await running_alone(state, procs, "forever", mark="ps")
    await eventually(lambda: subscribers(state), what="the worker's listener")

    # Kill the listeners' connections and cancel in one MULTI, so that redis-py's silent
    # resubscribe cannot come in between: nobody hears the hint, only the durable request
    # (the task's flag and the worker's mailbox) remains.
    pipe = state.redis.pipeline(transaction=True)
    pipe.client_kill_filter(_type="pubsub")
    await state.scripts.run("cancel", str(task.id), "cancelled by operator", client=pipe)
    pipe.pubsub_numsub(state.keys.events)
    killed, outcome, listeners = await pipe.execute()
    requested_at = time.monotonic()
    assert killed >= 1 and outcome == ["requested"]
    assert listeners == [(state.keys.events, 0)]

    cancelled = await wait_status(state, task.id, "cancelled", within=10)
    took = time.monotonic() - requested_at
    figure("cancel with its pub/sub hint lost: request -> cancelled", took)
    assert took < 3.0  # within about one heartbeat (lease / 3 = 0.5 s here)
    assert [e.kind for e in cancelled.errors] == ["cancelled"]
    assert await started(state, "ps") == 1
    # The listener reconnects by itself and the worker goes on working.
    await eventually(lambda: subscribers(state), within=10, what="the listener to return")
    after = await state.submit_task(Task(name="add", parameters={"a": 2, "b": 2}))
    assert (await wait_status(state, after.id, "completed")).results == {"sum": 4}


async def test_a_task_that_swallows_cancellation_ends_cancelled_not_rerun(
    state: StateManager, procs: Procs, tmp_path: Path
) -> None:
    runs, worker = await counting_worker(state, procs, tmp_path)
    stubborn = await state.submit_task(Task(name="stubborn_counted"))
    await eventually(lambda: runs.count(), what="the stubborn task to run")
    assert await state.cancel_task(stubborn.id) == "requested"

    # The task ignores the cancel: it stays started with the request recorded, and it
    # holds one slot only; the worker goes on with other work.
    other = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 1}))
    assert (await wait_status(state, other.id, "completed")).results == {"sum": 2}
    held = await state.get_task(stubborn.id)
    assert held.status == "started" and held.cancel_requested

    # A shutdown cannot hang on it: the second SIGTERM gives it 5 s, then the worker exits
    # and ends its lease, so the task is recovered, where the pending cancel wins.
    worker.send_signal(signal.SIGTERM)
    await eventually(lambda: "stop signal" in procs.logs(), what="the first signal handled")
    worker.send_signal(signal.SIGTERM)
    assert await wait_exit(worker, within=20) == 0
    cleaner_with(procs, 0.3)
    worker_with(procs, runs.env)  # were the task re-queued, this worker would run it again
    done = await wait_status(state, stubborn.id, "cancelled", within=20)
    assert done.errors[-1].kind == "cancelled" and "cancel was pending" in done.errors[-1].message
    assert done.recoveries == 1
    assert runs.count() == {str(stubborn.id): 1}


async def test_each_shutdown_policy_on_one_worker(
    state: StateManager, procs: Procs, tmp_path: Path
) -> None:
    runs, worker = await counting_worker(state, procs, tmp_path)
    # STOP and RESUBMIT tasks that log their start to a file and await nothing before
    # their sleep, so the shutdown's cancel never lands inside a Redis call.
    stop = await state.submit_task(Task(name="counted", parameters={"seconds": 3600}))
    resubmit = await state.submit_task(Task(name="resubmit_counted"))
    carry_on = await state.submit_task(
        Task(name="finisher", parameters={"mark": "p-cont", "seconds": 1.5})
    )
    await eventually(lambda: len(runs.count()) == 2, what="the STOP and RESUBMIT tasks to run")
    await eventually(lambda: started(state, "p-cont"), what="the CONTINUE task to run")

    worker.send_signal(signal.SIGTERM)
    assert await wait_exit(worker, within=20) == 0
    # The worker is gone: each task is where its policy put it, at the moment of exit.
    stopped, resubmitted, finished = await state.get_tasks(
        [str(stop.id), str(resubmit.id), str(carry_on.id)], history=True
    )
    assert stopped.status == "stalled" and [e.kind for e in stopped.errors] == ["stopped"]
    assert resubmitted.status == "submitted"
    assert [e.kind for e in resubmitted.errors] == ["interrupted"]
    assert finished.status == "completed" and finished.results == {"finished": True}
    for t in (stopped, resubmitted, finished):
        assert t.retry_attempt == 0
    # A resubmit counts as a recovery (bounded by JOBBERS_MAX_RECOVERIES, issue 14).
    assert (stopped.recoveries, resubmitted.recoveries, finished.recoveries) == (0, 1, 0)
    assert await state.workers() == [] and await inflight_keys(state) == []

    worker_with(procs, runs.env)  # the resubmitted task runs again elsewhere; nothing else
    again = await wait_status(state, resubmit.id, "completed", within=20)
    assert again.retry_attempt == 0 and again.recoveries == 1 and again.results == {"runs": 2}
    assert runs.count() == {str(stop.id): 1, str(resubmit.id): 2}
    assert await started(state, "p-cont") == 1
    assert (await state.get_task(stop.id)).status == "stalled"


async def test_sigkill_during_a_continue_drain_loses_nothing(
    state: StateManager, procs: Procs
) -> None:
    worker, draining = await running_alone(state, procs, "drainer", mark="dr")
    worker.send_signal(signal.SIGTERM)
    await eventually(lambda: "stop signal" in procs.logs(), what="the drain to begin")
    # Tasks that arrive during the drain wait: a stopping worker claims nothing.
    waiting = [
        await state.submit_task(Task(name="add", parameters={"a": i, "b": 0})) for i in range(3)
    ]
    worker.send_signal(signal.SIGKILL)
    assert await wait_exit(worker) == -signal.SIGKILL
    assert (await state.get_task(draining.id)).status == "started"
    assert all(t.status == "submitted" for t in await state.get_tasks([str(t.id) for t in waiting]))

    procs.worker()  # a fresh worker recovers the drained task and runs the waiting ones
    done = await wait_status(state, draining.id, "completed", within=30)
    assert done.results == {"run": 2} and done.recoveries == 1 and done.retry_attempt == 0
    assert [e.kind for e in done.errors] == ["worker_lost"]
    for i, t in enumerate(waiting):
        assert (await wait_status(state, t.id, "completed", within=20)).results == {"sum": i}
    assert await started(state, "dr") == 2
    assert len(await state.workers()) == 1 and await inflight_keys(state) == []
