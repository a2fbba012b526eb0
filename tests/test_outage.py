"""Redis goes away and comes back: processes survive and resume, nothing is lost."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobbers.dev.redis_server import RedisServer
from jobbers.models.task import Task
from jobbers.store.facade import StateManager
from tests.conftest import eventually, spawn, wait_status


async def test_worker_and_scheduler_survive_a_redis_restart(
    own_redis: tuple[RedisServer, StateManager], tmp_path: Path
) -> None:
    server, state = own_redis
    log = tmp_path / "procs.log"
    env = {"JOBBERS_WORKER_LEASE_MS": "1500"}
    tasks = str(Path(__file__).parent / "sample_tasks.py")
    worker = spawn(["-m", "jobbers.runtime.worker_main", tasks], server.url, env, log)
    scheduler = spawn(["-m", "jobbers.runtime.scheduler"], server.url, env, log)
    try:
        first = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 1}))
        await wait_status(state, first.id, "completed")
        server.stop(kill=True)  # SIGKILL: no shutdown save; AOF replays on start
        outage_start = time.monotonic()
        # Keep Redis down until both processes have failed and retried several times.
        await eventually(
            lambda: log.read_text().count("unavailable") >= 6, within=15, what="retries seen"
        )
        assert worker.poll() is None and scheduler.poll() is None
        warnings = log.read_text().count("unavailable")
        assert warnings < 40 * (time.monotonic() - outage_start)  # backoff, no tight loop
        server.start()
        # The acknowledged task survived the crash, and new work flows again.
        assert (await state.get_task(first.id)).status == "completed"
        second = await state.submit_task(Task(name="add", parameters={"a": 2, "b": 2}))
        assert (await wait_status(state, second.id, "completed", within=20)).results == {"sum": 4}
        retry = await state.submit_task(Task(name="flaky_delayed", parameters={"succeed_on": 1}))
        await wait_status(state, retry.id, "completed", within=20)
    finally:
        for proc in (worker, scheduler):
            proc.kill()
            proc.wait()


async def test_state_manager_reports_unavailable_then_recovers(
    own_redis: tuple[RedisServer, StateManager],
) -> None:
    from jobbers.errors import StoreUnavailable

    server, state = own_redis
    server.stop()
    t0 = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await state.submit_task(Task(name="add"))
    assert time.monotonic() - t0 < 5
    server.start()
    stored = await state.submit_task(Task(name="add"))
    assert (await state.get_task(stored.id)).status == "submitted"


async def test_a_worker_resumes_promptly_after_a_long_outage(
    own_redis: tuple[RedisServer, StateManager], tmp_path: Path
) -> None:
    """However long Redis was away, the fetcher's pause between retries stays short.

    With pauses doubling from 0.2 s, six failed fetches take 6 s; an uncapped (or 10 s
    capped) fetcher then sleeps 6.4 s more and leaves new work waiting that long.
    """
    server, state = own_redis
    log = tmp_path / "worker.log"
    tasks = str(Path(__file__).parent / "sample_tasks.py")
    worker = spawn(["-m", "jobbers.runtime.worker_main", tasks], server.url, {}, log)
    try:
        first = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 1}))
        await wait_status(state, first.id, "completed")
        server.stop(kill=True)
        await eventually(
            lambda: log.read_text().count("fetch: redis") >= 6, within=30, what="6 failed fetches"
        )
        server.start()
        back = time.monotonic()
        task = await state.submit_task(Task(name="add", parameters={"a": 2, "b": 2}))
        await wait_status(state, task.id, "completed", within=20)
        assert time.monotonic() - back < 4.0, log.read_text()[-2000:]
    finally:
        worker.kill()
        worker.wait()


async def test_every_kind_of_verb_reports_unavailable(
    own_redis: tuple[RedisServer, StateManager],
) -> None:
    """Verbs that once let redis-py's errors out (the run and schedule verbs, the waits,
    the hint subscription) raise the store's own error, as the task verbs always did."""
    from jobbers.errors import StoreUnavailable

    server, state = own_redis
    server.stop()
    verbs: dict[str, Callable[[], Awaitable[object]]] = {
        "promote_due": lambda: state.promote_due(),
        "register_worker": lambda: state.register_worker("w1", 1000, {}),
        "wait_for_work": lambda: state.wait_for_work(["default"], "wake", 0.1),
        "list_schedules": lambda: state.list_schedules(),
        "mark_stalled": lambda: state.mark_stalled(),
        "set_worker_queues": lambda: state.set_worker_queues("w1", ["default"]),
    }
    for name, call in verbs.items():
        try:
            await call()
        except StoreUnavailable:
            continue
        except Exception as exc:
            pytest.fail(f"{name} let {exc!r} out")
        pytest.fail(f"{name} answered with Redis down")
    with pytest.raises(StoreUnavailable):
        async with state.hint_listener():
            pass
    server.start()
    assert await state.promote_due() == (0, -1)
