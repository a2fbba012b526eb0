"""The dead-letter queue: browse with filters, history, resubmit and remove."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jobbers.store.facade import StateManager

from .conftest import Claimer, failure, new_id, submit


@pytest.fixture
async def dead(client: httpx.AsyncClient, state: StateManager, claim: Claimer) -> list[str]:
    """Three dead-lettered tasks: add on default, noop on default, add on reports."""
    await client.post("/queues", json={"name": "reports"})
    ids = []
    for name, queue in (("add", "default"), ("noop", "default"), ("add", "reports")):
        task = await submit(client, name=name, queue=queue)
        run = await claim(queue=queue, key=f"{name}@1")
        await state.fail(run.id, run.run_id, failure(f"{name} broke"))
        ids.append(task["id"])
    return ids


def ids_of(response: httpx.Response) -> list[str]:
    """The task ids of a page."""
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]


async def test_browse_with_filters(client: httpx.AsyncClient, dead: list[str]) -> None:
    add_default, noop_default, add_reports = dead
    everything = await client.get("/dead-letter-queue")
    assert ids_of(everything) == [add_reports, noop_default, add_default]  # newest first
    assert everything.json()["items"][0]["in_dlq"] is True
    by_name = await client.get("/dead-letter-queue", params={"task_name": "add"})
    assert ids_of(by_name) == [add_reports, add_default]
    by_queue = await client.get("/dead-letter-queue", params={"queue": "default"})
    assert ids_of(by_queue) == [noop_default, add_default]
    both = await client.get("/dead-letter-queue", params={"task_name": "add", "queue": "reports"})
    assert ids_of(both) == [add_reports]
    version = await client.get("/dead-letter-queue", params={"task_version": 2})
    assert ids_of(version) == []
    page = await client.get("/dead-letter-queue", params={"limit": 2})
    assert ids_of(page) == [add_reports, noop_default]
    rest = await client.get(
        "/dead-letter-queue", params={"limit": 2, "cursor": page.json()["next_cursor"]}
    )
    assert ids_of(rest) == [add_default]
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 5000}, {"task_version": -1}, {"task_name": "a b"}, {"cursor": "x"}],
)
async def test_browse_rejects_bad_filters(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    assert (await client.get("/dead-letter-queue", params=params)).status_code == 422


async def test_history(client: httpx.AsyncClient, dead: list[str]) -> None:
    response = await client.get(f"/dead-letter-queue/{dead[0]}/history")
    assert response.status_code == 200
    body = response.json()
    assert body["task_id"] == dead[0]
    assert body["task"]["status"] == "failed"
    assert [h["message"] for h in body["history"]] == ["add broke"]
    live = await submit(client)
    assert (await client.get(f"/dead-letter-queue/{live['id']}/history")).status_code == 404
    assert (await client.get(f"/dead-letter-queue/{new_id()}/history")).status_code == 404
    assert (await client.get("/dead-letter-queue/zzz/history")).status_code == 422


async def test_resubmit_by_ids(client: httpx.AsyncClient, dead: list[str]) -> None:
    live = await submit(client)
    ghost = new_id()
    response = await client.post(
        "/dead-letter-queue/resubmit",
        json={"task_ids": [dead[0], live["id"], ghost, "junk"], "reset_retry_count": True},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["resubmitted"] == 1
    assert body["results"][dead[0]] == "resubmitted"
    assert body["results"][live["id"]] == "not_found"  # not in the DLQ
    assert body["results"][ghost] == "not_found"
    assert body["results"]["junk"] == "invalid_id"
    task = (await client.get(f"/task-status/{dead[0]}")).json()
    assert (task["status"], task["in_dlq"], task["retry_attempt"]) == ("submitted", False, 0)
    # Resubmitting again is a no-op for that id: it is no longer in the DLQ.
    again = await client.post("/dead-letter-queue/resubmit", json={"task_ids": [dead[0]]})
    assert again.json()["resubmitted"] == 0


async def test_resubmit_by_filter_respects_limit(
    client: httpx.AsyncClient, dead: list[str]
) -> None:
    response = await client.post(
        "/dead-letter-queue/resubmit", json={"task_name": "add", "limit": 1}
    )
    assert response.status_code == 200
    assert response.json()["results"] == {dead[2]: "resubmitted"}
    remaining = await client.get("/dead-letter-queue")
    assert ids_of(remaining) == [dead[1], dead[0]]


@pytest.mark.parametrize(
    "body",
    [
        {"task_ids": ["x"], "task_name": "add"},
        {"limit": 1001},
        {"limit": 0},
        {"task_ids": "abc"},
        {"reset_retry_count": "sometimes"},
        {"unknown": 1},
    ],
)
async def test_resubmit_rejects_bad_bodies(
    client: httpx.AsyncClient, dead: list[str], body: dict[str, object]
) -> None:
    response = await client.post("/dead-letter-queue/resubmit", json=body)
    assert response.status_code == 422
    assert len(ids_of(await client.get("/dead-letter-queue"))) == 3


async def test_remove_by_ids_and_by_filter(client: httpx.AsyncClient, dead: list[str]) -> None:
    by_ids = await client.request(
        "DELETE", "/dead-letter-queue", json={"task_ids": [dead[0], new_id(), "junk"]}
    )
    assert by_ids.status_code == 200
    assert by_ids.json()["removed"] == 1
    task = (await client.get(f"/task-status/{dead[0]}")).json()
    assert (task["status"], task["in_dlq"]) == ("failed", False)  # kept, only un-dead-lettered
    by_filter = await client.request("DELETE", "/dead-letter-queue", json={"queue": "reports"})
    assert by_filter.json() == {"removed": 1, "task_ids": [dead[2]]}
    assert ids_of(await client.get("/dead-letter-queue")) == [dead[1]]
    rest = await client.request("DELETE", "/dead-letter-queue", json={})
    assert rest.json()["removed"] == 1
    assert ids_of(await client.get("/dead-letter-queue")) == []


async def test_remove_needs_a_body(client: httpx.AsyncClient, dead: list[str]) -> None:
    assert (await client.delete("/dead-letter-queue")).status_code == 422
    assert len(ids_of(await client.get("/dead-letter-queue"))) == 3
