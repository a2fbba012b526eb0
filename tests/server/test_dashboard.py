"""Running and scheduled tasks, workers, stats, metrics and health; one real worker run."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from ulid import ULID

from jobbers.runtime.worker import Worker, WorkerSettings
from jobbers.store.facade import StateManager
from jobbers.store.listings import Key, PageCursor
from tests.conftest import eventually

from .conftest import Claimer, failure, submit


async def test_active_tasks_show_worker_elapsed_and_heartbeat_age(
    client: httpx.AsyncClient, state: StateManager, claim: Claimer
) -> None:
    await client.post("/queues", json={"name": "reports"})
    task = await submit(client)
    other = await submit(client, queue="reports")
    run = await claim(hb_ms=60_000)
    await claim(queue="reports")
    await state.task_heartbeat(run.id, run.run_id, progress=0.5, message="half")
    response = await client.get("/active-tasks")
    assert response.status_code == 200
    items = {t["id"]: t for t in response.json()["items"]}
    assert set(items) == {task["id"], other["id"]}
    mine = items[task["id"]]
    assert mine["status"] == "started"
    assert mine["worker_id"] == "w-test"
    assert (mine["progress"], mine["progress_message"]) == (0.5, "half")
    assert 0 <= mine["elapsed_s"] < 60
    assert 0 <= mine["heartbeat_age_s"] <= mine["elapsed_s"] + 1
    only = await client.get("/active-tasks", params={"queue": "reports"})
    assert [t["id"] for t in only.json()["items"]] == [other["id"]]
    assert (await client.get("/active-tasks", params={"queue": "ghost"})).status_code == 404
    assert (await client.get("/active-tasks", params={"limit": 0})).status_code == 422


async def test_scheduled_tasks_show_their_due_time(
    client: httpx.AsyncClient, state: StateManager, claim: Claimer
) -> None:
    task = await submit(client)
    run = await claim()
    await state.schedule_retry(run.id, run.run_id, 120, failure("flaky"))
    response = await client.get("/scheduled-tasks")
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["id"] == task["id"]
    assert item["status"] == "scheduled"
    due = dt.datetime.fromisoformat(item["scheduled_for"])
    assert due > dt.datetime.now(dt.UTC)
    assert 100 < item["due_in_s"] <= 120
    empty = await client.get("/scheduled-tasks", params={"queue": "default", "limit": 1})
    assert [t["id"] for t in empty.json()["items"]] == [task["id"]]


async def test_workers_lists_registrations(client: httpx.AsyncClient, claim: Claimer) -> None:
    task = await submit(client)
    await claim()
    response = await client.get("/workers")
    assert response.status_code == 200
    [worker] = response.json()["workers"]
    assert worker["id"] == "w-test"
    assert (worker["role"], worker["host"], worker["pid"]) == ("default", "test-host", 4242)
    assert worker["in_flight"] == [task["id"]]
    assert worker["alive"] is True
    assert worker["last_seen"] is not None


async def test_stats_is_one_dashboard_frame(
    client: httpx.AsyncClient, state: StateManager, claim: Claimer
) -> None:
    await client.post("/queues", json={"name": "reports", "max_concurrent": 3})
    done = await submit(client)
    run = await claim()
    await state.complete(run.id, run.run_id, {"sum": 3})
    await submit(client)
    await submit(client)
    await claim()
    failed = await submit(client, queue="reports")
    run = await claim(queue="reports")
    await state.fail(run.id, run.run_id, failure())
    response = await client.get("/stats")
    assert response.status_code == 200
    body = response.json()
    assert body["workers"] == 1
    assert body["dlq"] == 1
    assert body["statuses"]["completed"] == 1
    queues = {q["name"]: q for q in body["queues"]}
    default, reports = queues["default"], queues["reports"]
    assert (default["depth"], default["running"], default["scheduled"]) == (1, 1, 0)
    assert default["completed_1m"] == 1
    assert default["completed_1h"] == 1
    assert reports["failed_1h"] == 1
    assert reports["dlq"] == 1
    assert reports["max_concurrent"] == 3
    assert reports["paused"] is False
    assert len(default["series_completed"]) == 30
    short = await client.get("/stats", params={"minutes": 5})
    assert len(short.json()["queues"][0]["series_completed"]) == 5
    assert (await client.get("/stats", params={"minutes": 0})).status_code == 422
    assert done["id"] and failed["id"]


async def test_metrics_in_prometheus_text(client: httpx.AsyncClient, claim: Claimer) -> None:
    await submit(client)
    await submit(client)
    await claim()
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'jobbers_tasks{status="started"} 1.0' in text
    assert 'jobbers_queue_tasks{queue="default",status="submitted"} 1.0' in text
    assert 'jobbers_queue_tasks{queue="default",status="started"} 1.0' in text
    assert 'jobbers_queue_tasks{queue="default",status="completed"} 0.0' in text
    assert 'jobbers_queue_depth{queue="default"} 1.0' in text
    assert "jobbers_workers 1.0" in text
    assert "jobbers_submit_latency_seconds_count 2.0" in text
    assert 'jobbers_submit_latency_seconds_bucket{le="+Inf"} 2.0' in text


@pytest.mark.parametrize(
    ("path", "end"),
    [("/active-tasks", 2**52), ("/scheduled-tasks", 2**52), ("/dead-letter-queue", -1)],
)
async def test_cursors_past_any_listing_are_rejected(
    client: httpx.AsyncClient, path: str, end: int
) -> None:
    tid = str(ULID())
    response = await client.get(path, params={"cursor": PageCursor(Key(1e20, tid)).encode()})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]
    last = await client.get(path, params={"cursor": PageCursor(Key(end, tid)).encode()})
    assert last.json() == {"items": [], "next_cursor": None}


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["redis"]) == ("ok", True)
    assert body["version"]


@pytest.fixture
async def worker(clean_redis: str, client: httpx.AsyncClient) -> Any:
    """A real in-process worker on its own connection, stopped after the test."""
    worker_state = StateManager.from_url(clean_redis)
    worker = Worker(worker_state, WorkerSettings(concurrency=4, block_timeout=0.2))
    running = asyncio.create_task(worker.run())
    yield worker
    worker.request_shutdown()
    await asyncio.wait_for(running, 10)
    await worker_state.close()


async def test_a_real_worker_runs_what_the_api_submits(
    client: httpx.AsyncClient, worker: Worker
) -> None:
    ok = await submit(client, parameters={"a": 20, "b": 22})
    bad = await submit(client, name="boom")

    async def status(tid: str) -> dict[str, Any]:
        body: dict[str, Any] = (await client.get(f"/task-status/{tid}")).json()
        return body

    async def finished() -> bool:
        done = (await status(ok["id"]))["status"], (await status(bad["id"]))["status"]
        return done == ("completed", "failed")

    await eventually(finished, what="both tasks to finish")
    assert (await status(ok["id"]))["results"] == {"sum": 42}
    history = (await client.get(f"/dead-letter-queue/{bad['id']}/history")).json()["history"]
    assert history[0]["exc_type"] == "ValueError"
    workers = (await client.get("/workers")).json()["workers"]
    assert [w["id"] for w in workers] == [worker.id]
    resubmitted = await client.post(
        "/dead-letter-queue/resubmit", json={"task_name": "boom", "reset_retry_count": True}
    )
    assert resubmitted.json()["resubmitted"] == 1

    async def failed_again() -> bool:
        task = await status(bad["id"])
        return task["status"] == "failed" and len(task["errors"]) == 2

    await eventually(failed_again, what="the resubmitted task to run once more")
