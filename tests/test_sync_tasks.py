"""Plain ``def`` tasks on real worker processes: the loop stays free while they block."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status
from tests.procs import FAST, Procs, live_workers, wait_exit

MODULE = str(Path(__file__).resolve().parent / "extension_tasks.py")


def ext_worker(procs: Procs, *options: str, **env: str) -> subprocess.Popen[bytes]:
    """A worker subprocess on tests/extension_tasks.py."""
    args = ["-m", "jobbers.runtime.worker_main", MODULE, *options]
    return procs._spawn(args, {**FAST, "WORKER_CONCURRENT_TASKS": "4", **env}, "worker")


async def test_sync_task_heartbeats_through_a_3s_blocking_call(
    state: StateManager, procs: Procs
) -> None:
    # A 1 s lease: a blocked event loop would let it lapse (and the watchdog would end
    # the process) well within the 3 s the task blocks its thread.
    ext_worker(procs, JOBBERS_WORKER_LEASE_MS="1000")
    [worker] = await live_workers(state, 1)
    task = await state.submit_task(Task(name="sync_block", parameters={"seconds": 3}))

    async def beating() -> bool:
        found = await state.get_task(str(task.id))
        return found.progress_message == "blocking"

    await eventually(beating, within=15, what="the first sync heartbeat")
    done = await wait_status(state, task.id, TaskStatus.COMPLETED, within=20)
    assert done.results is not None
    assert done.results["thread"].startswith("jobbers-task")
    assert done.results["id"] == str(task.id)
    assert done.progress == 1.0 and done.progress_message == "done"
    assert done.recoveries == 0 and done.errors == []  # the run was never taken away
    [still] = await live_workers(state, 1)
    assert still.id == worker.id  # same lease, never re-registered
    logs = procs.logs()
    assert "lease lapsed" not in logs and "declared dead" not in logs
    assert "watchdog" not in logs


async def test_cancelled_sync_task_stops_at_its_next_heartbeat(
    state: StateManager, procs: Procs
) -> None:
    ext_worker(procs)
    task = await state.submit_task(Task(name="sync_spin"))
    await wait_status(state, task.id, TaskStatus.STARTED, within=15)
    assert await state.cancel_task(str(task.id)) == "requested"
    done = await wait_status(state, task.id, TaskStatus.CANCELLED, within=10)
    assert done.errors[-1].kind == "cancelled"
    # The thread learnt of it at its next beat (RunStopped), and what it did is fenced out.
    await eventually(lambda: "is discarded" in procs.logs(), within=10, what="fence log")
    assert "RunStopped" not in procs.logs()  # raised in the thread, never a traceback


async def test_timed_out_sync_task_fences_its_late_result(
    state: StateManager, procs: Procs
) -> None:
    ext_worker(procs)
    task = await state.submit_task(Task(name="sync_sleepy", parameters={"seconds": 2}))
    failed = await wait_status(state, task.id, TaskStatus.FAILED, within=15)
    assert failed.errors[-1].kind == "timeout"
    # The thread returns a second later: its result must not land on the task.
    await eventually(lambda: "is discarded" in procs.logs(), within=10, what="fence log")
    after = await state.get_task(str(task.id))
    assert after.status == TaskStatus.FAILED and after.results is None


async def test_sigterm_hands_back_a_blocked_sync_task_and_exits_at_once(
    state: StateManager, procs: Procs
) -> None:
    proc = ext_worker(procs)
    task = await state.submit_task(Task(name="sync_block", parameters={"seconds": 60}))

    async def blocking() -> bool:
        found = await state.get_task(str(task.id))
        return found.progress_message == "blocking"

    await eventually(blocking, within=15, what="the task blocking its thread")
    proc.send_signal(signal.SIGTERM)
    # Its thread sleeps for a minute more: the process must not wait for it.
    assert await wait_exit(proc, within=10) == 0
    back = await state.get_task(str(task.id))
    assert back.status == TaskStatus.SUBMITTED  # RESUBMIT, the default policy
    assert back.errors[-1].kind == "interrupted"
