"""The event stream: written by the scripts that change statuses, served as SSE by a real
manager (uvicorn on a real port: an in-process ASGI transport would buffer the endless body).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from jobbers.api.client import JobbersClient, NotFound, ServiceUnavailable
from jobbers.models.event import TaskEvent
from jobbers.models.queue import QueueConfig
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from jobbers.store.scripts import Scripts
from tests.conftest import eventually
from tests.procs import Procs, live_workers
from tests.server.conftest import LiveManager


@pytest.fixture
async def api(live_manager: LiveManager) -> AsyncIterator[JobbersClient]:
    """The typed client of the live manager."""
    async with JobbersClient(live_manager.url, timeout=5) as client:
        yield client


@pytest.fixture
def procs(clean_redis: str, tmp_path: Path) -> Any:
    """Real worker and scheduler processes, killed after the test."""
    running = Procs(clean_redis, tmp_path)
    yield running
    running.close()


async def take(events: AsyncIterator[TaskEvent], n: int, within: float = 10) -> list[TaskEvent]:
    """The next ``n`` events of a stream, failing at the deadline."""

    async def first_n() -> list[TaskEvent]:
        got = []
        async for event in events:
            got.append(event)
            if len(got) == n:
                break
        return got

    return await asyncio.wait_for(first_n(), within)


def order(event: TaskEvent) -> tuple[int, ...]:
    """Where an event stands in the stream: entry time, sequence, index in the entry."""
    entry, _, index = event.event_id.partition(".")
    ms, seq = entry.split("-")
    return int(ms), int(seq), int(index or -1)


async def opened(api: JobbersClient, **filters: Any) -> AsyncIterator[TaskEvent]:
    """An event stream that is open (its start fixed) when this returns."""
    stream = api.event_stream(**filters)
    assert await anext(stream) is None  # the stream is open

    async def events() -> AsyncIterator[TaskEvent]:
        async for event in stream:
            if event is not None:
                yield event

    return events()


async def test_a_retried_task_shows_every_change_in_order(
    state: StateManager, api: JobbersClient, procs: Procs
) -> None:
    procs.worker()
    procs.scheduler()
    await live_workers(state, 1)
    task = Task(name="flaky_delayed", parameters={"succeed_on": 1})
    events = await opened(api, task_id=str(task.id))
    await state.submit_task(task)
    seen = await take(events, 6, within=15)
    assert [(e.from_status, e.status) for e in seen] == [
        (None, "submitted"),
        ("submitted", "started"),
        ("started", "scheduled"),
        ("scheduled", "submitted"),
        ("submitted", "started"),
        ("started", "completed"),
    ]
    assert [e.attempt for e in seen] == [0, 0, 1, 1, 1, 1]
    assert {e.task_id for e in seen} == {str(task.id)}
    assert {(e.name, e.queue) for e in seen} == {("flaky_delayed", "default")}
    assert seen[0].worker_id is None and seen[1].worker_id is not None
    assert [order(e) for e in seen] == sorted(order(e) for e in seen)
    assert len({e.event_id for e in seen}) == 6
    stored = await state.get_task(task.id)
    assert stored.completed_at is not None
    assert abs((seen[-1].at - stored.completed_at).total_seconds()) < 0.01


async def test_a_reader_resumes_after_last_event_id_missing_nothing(
    state: StateManager, api: JobbersClient
) -> None:
    events = await opened(api)
    first = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 1}))
    (seen,) = await take(events, 1)
    assert seen.task_id == str(first.id)
    await events.aclose()  # type: ignore[attr-defined]
    # Changes made while no reader is connected.
    later = [await state.submit_task(Task(name="add")) for _ in range(3)]
    await state.cancel_task(later[0].id)
    resumed = api.events(last_event_id=seen.event_id)
    got = await take(resumed, 4)
    assert [(e.task_id, e.status) for e in got] == [
        *((str(t.id), TaskStatus.SUBMITTED) for t in later),
        (str(later[0].id), TaskStatus.CANCELLED),
    ]
    assert all(order(e) > order(seen) for e in got)


async def test_filters_pick_queue_task_name_and_status(
    state: StateManager, api: JobbersClient
) -> None:
    await state.create_queue(QueueConfig(name="other"))
    by_queue = await opened(api, queue="other")
    by_name = await opened(api, name="noop")
    by_status = await opened(api, status=TaskStatus.CANCELLED)
    add = await state.submit_task(Task(name="add"))
    noop = await state.submit_task(Task(name="noop"))
    other = await state.submit_task(Task(name="add", queue="other"))
    by_task = await opened(api, task_id=str(add.id))
    await state.cancel_task(add.id)
    await state.cancel_task(other.id)
    got = [(e.task_id, e.status) for e in await take(by_queue, 2)]
    assert got == [(str(other.id), "submitted"), (str(other.id), "cancelled")]
    assert [(e.task_id, e.status) for e in await take(by_name, 1)] == [(str(noop.id), "submitted")]
    got = [(e.task_id, e.status) for e in await take(by_status, 2)]
    assert got == [(str(add.id), "cancelled"), (str(other.id), "cancelled")]
    # Opened after its submit: only the cancel.
    assert [(e.task_id, e.status) for e in await take(by_task, 1)] == [(str(add.id), "cancelled")]


async def test_a_bad_last_event_id_or_filter_is_a_clear_422(live_manager: LiveManager) -> None:
    async with httpx.AsyncClient(base_url=live_manager.url) as http:
        bad_id = await http.get("/events", headers={"Last-Event-ID": "yesterday"})
        bad_status = await http.get("/events", params={"status": "done"})
    assert bad_id.status_code == 422 and "Last-Event-ID" in bad_id.text
    assert bad_status.status_code == 422


async def test_a_manager_with_the_stream_off_answers_404(
    clean_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBBERS_EVENTS_MAXLEN", "0")
    state = StateManager.from_url(clean_redis)
    manager = LiveManager(clean_redis, state)
    await manager.start()
    try:
        await state.submit_task(Task(name="add"))
        async with JobbersClient(manager.url, timeout=5) as api:
            with pytest.raises(NotFound, match="JOBBERS_EVENTS_MAXLEN=0"):
                await anext(api.events())
        assert await state.redis.exists(state.keys.event_stream) == 0
    finally:
        await manager.stop()
        await state.close()


async def test_the_stream_stays_near_its_cap(state: StateManager) -> None:
    capped = StateManager(state.redis, state.keys)
    capped.scripts = Scripts(state.redis, state.keys.prefix, events_max=10)
    for _ in range(300):
        await capped.submit_task(Task(name="add"))
    redis: Redis = state.redis
    # MAXLEN ~ trims whole stream nodes (100 entries by default): near the cap, not at it.
    assert 10 <= await redis.xlen(state.keys.event_stream) <= 150


async def test_a_batch_is_one_entry_whose_changes_resume_one_by_one(
    state: StateManager, api: JobbersClient
) -> None:
    events = await opened(api)
    tasks = [Task(name="add"), Task(name="add"), Task(name="noop")]
    await state.submit_many(tasks)
    got = await take(events, 3)
    assert [(e.task_id, e.name) for e in got] == [(str(t.id), t.name) for t in tasks]
    assert await state.redis.xlen(state.keys.event_stream) == 2  # one entry per task type
    # Resuming after the first change of the batch gives the other two, then what follows.
    await state.cancel_task(tasks[0].id)
    resumed = await take(api.events(last_event_id=got[0].event_id), 3)
    assert [(e.task_id, e.status) for e in resumed] == [
        (str(tasks[1].id), "submitted"),
        (str(tasks[2].id), "submitted"),
        (str(tasks[0].id), "cancelled"),
    ]


async def test_streams_past_the_cap_get_a_503_and_api_requests_still_answer(
    live_manager: LiveManager, api: JobbersClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobbers.server.routes import events as route

    monkeypatch.setattr(route, "MAX_STREAMS", 2)
    first = await opened(api)
    second = await opened(api)
    with pytest.raises(ServiceUnavailable, match="2 event streams"):
        await opened(api)
    assert (await api.health()).status == "ok"
    await first.aclose()  # type: ignore[attr-defined]
    await second.aclose()  # type: ignore[attr-defined]
    # Closed streams free their places (the server sees the disconnect soon after).

    async def reopened() -> AsyncIterator[TaskEvent] | None:
        try:
            return await opened(api)
        except ServiceUnavailable:
            return None

    third = await eventually(reopened, what="a stream place freed")
    await third.aclose()


async def test_a_big_batch_is_cut_into_entries_of_a_hundred_changes(state: StateManager) -> None:
    tasks = [Task(name="add") for _ in range(250)]
    await state.submit_many(tasks)
    entries: Any = await state.redis.xrange(state.keys.event_stream)
    # A batch's ids share their start (`idp`), stored once: the rest of each is in `ids`.
    assert [len(fields["ids"].split(",")) for _, fields in entries] == [100, 100, 50]
    _, events = await state.read_events("0-0", 100)
    assert [e.task_id for e in events] == [str(t.id) for t in tasks]
