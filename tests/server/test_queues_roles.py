"""Queues and roles: CRUD, pause, resume, purge, and the errors around them."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from jobbers.store.facade import StateManager

from .conftest import Claimer, submit

REPORTS = {
    "name": "reports",
    "max_concurrent": 5,
    "rate_numerator": 100,
    "rate_denominator": 1,
    "rate_period": "hour",
}


async def test_queue_lifecycle(client: httpx.AsyncClient) -> None:
    created = await client.post("/queues", json=REPORTS)
    assert created.status_code == 201
    assert created.json() == {**REPORTS, "paused": False}
    listed = (await client.get("/queues")).json()["queues"]
    assert [q["name"] for q in listed] == ["default", "reports"]
    config = await client.get("/queues/reports/config")
    assert config.status_code == 200
    assert config.json()["rate_period"] == "hour"

    updated = await client.put("/queues/reports", json={"max_concurrent": 2})
    assert updated.status_code == 200
    assert updated.json() == {"name": "reports", "max_concurrent": 2, "paused": False} | {
        "rate_numerator": None,
        "rate_denominator": None,
        "rate_period": None,
    }
    deleted = await client.delete("/queues/reports")
    assert deleted.status_code == 200
    assert "reports" in deleted.json()["message"]
    assert (await client.get("/queues/reports/config")).status_code == 404


async def test_put_creates_a_missing_queue(client: httpx.AsyncClient) -> None:
    response = await client.put("/queues/exports", json={"name": "exports", "max_concurrent": 3})
    assert response.status_code == 201
    assert (await client.get("/queues/exports/config")).json()["max_concurrent"] == 3


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("POST", "/queues", {"name": "default"}, 409),
        ("POST", "/queues", {"name": "x", "rate_numerator": 5}, 422),
        ("POST", "/queues", {"name": "x", "max_concurrent": 0}, 422),
        ("POST", "/queues", {"name": "bad name"}, 422),
        ("POST", "/queues", {"max_concurrent": 1}, 422),
        ("PUT", "/queues/x", {"rate_period": "hour"}, 422),
        ("PUT", "/queues/x", {"name": "y"}, 422),
        ("PUT", "/queues/x", {"rate_period": "fortnight", "rate_numerator": 1}, 422),
        ("GET", "/queues/ghost/config", None, 404),
        ("DELETE", "/queues/ghost", None, 404),
        ("POST", "/queues/ghost/pause", None, 404),
        ("POST", "/queues/ghost/resume", None, 404),
        ("POST", "/queues/ghost/purge", None, 404),
        ("GET", "/queues/bad%20name/config", None, 422),
        ("POST", "/roles", {"name": "default", "queues": []}, 409),
        ("POST", "/roles", {"name": "r", "queues": ["ghost"]}, 422),
        ("POST", "/roles", {"name": "r", "queues": "default"}, 422),
        ("POST", "/roles", {"queues": []}, 422),
        ("PUT", "/roles/r", {"queues": ["ghost"]}, 422),
        ("PUT", "/roles/r", {"name": "other", "queues": []}, 422),
        ("GET", "/roles/ghost", None, 404),
        ("DELETE", "/roles/ghost", None, 404),
        ("GET", "/roles/bad%20name", None, 422),
    ],
)
async def test_bad_queue_and_role_requests_store_nothing(
    client: httpx.AsyncClient,
    dbsize: Callable[[], int],
    method: str,
    path: str,
    body: dict[str, object] | None,
    code: int,
) -> None:
    before = dbsize()
    response = await client.request(method, path, json=body)
    assert response.status_code == code, response.text
    assert "detail" in response.json()
    assert dbsize() == before


async def test_deleting_a_busy_queue_is_a_conflict(client: httpx.AsyncClient) -> None:
    await client.post("/queues", json={"name": "busy"})
    await submit(client, queue="busy")
    response = await client.delete("/queues/busy")
    assert response.status_code == 409
    assert "1 waiting" in response.json()["detail"]
    assert (await client.get("/queues/busy/config")).status_code == 200


async def test_pause_and_resume_show_everywhere(client: httpx.AsyncClient) -> None:
    paused = await client.post("/queues/default/pause")
    assert paused.status_code == 200
    assert paused.json()["paused"] is True
    assert (await client.get("/queues/default/config")).json()["paused"] is True
    assert (await client.get("/queues")).json()["queues"][0]["paused"] is True
    stats = (await client.get("/stats")).json()
    assert stats["queues"][0]["paused"] is True
    # Paused queues still accept submissions.
    assert (await client.post("/submit-task", json={"name": "noop"})).status_code == 201
    # A PUT of the limits keeps the paused state.
    put = await client.put("/queues/default", json={"max_concurrent": 4})
    assert put.json()["paused"] is True
    resumed = await client.post("/queues/default/resume")
    assert resumed.json()["paused"] is False
    assert (await client.get("/stats")).json()["queues"][0]["paused"] is False


async def test_paused_queue_is_not_claimed(client: httpx.AsyncClient, state: StateManager) -> None:
    await client.post("/queues/default/pause")
    await submit(client)
    await state.register_worker("w-paused", 60_000, {"role": "default", "queues": "[]"})
    res = await state.claim("w-paused", "default", 1, {"add@1": (0, 0, -1)})
    assert res.status == "paused"


async def test_purge_cancels_waiting_tasks_only(client: httpx.AsyncClient, claim: Claimer) -> None:
    running = await submit(client)
    await claim()
    waiting = [await submit(client) for _ in range(3)]
    response = await client.post("/queues/default/purge")
    assert response.status_code == 200
    assert response.json() == {"queue": "default", "cancelled": 3}
    for task in waiting:
        assert (await client.get(f"/task-status/{task['id']}")).json()["status"] == "cancelled"
    assert (await client.get(f"/task-status/{running['id']}")).json()["status"] == "started"


async def test_role_lifecycle(client: httpx.AsyncClient) -> None:
    await client.post("/queues", json={"name": "reports"})
    await client.post("/queues", json={"name": "exports"})
    created = await client.post(
        "/roles", json={"name": "heavy-workers", "queues": ["reports", "exports"]}
    )
    assert created.status_code == 201
    assert created.json() == {
        "name": "heavy-workers",
        "queues": ["reports", "exports"],
        "strategy": "round_robin",
        "weights": {},
    }
    roles = (await client.get("/roles")).json()["roles"]
    assert [r["name"] for r in roles] == ["default", "heavy-workers"]
    assert (await client.get("/roles/heavy-workers")).json()["queues"] == ["reports", "exports"]
    replaced = await client.put("/roles/heavy-workers", json={"queues": ["exports"]})
    assert replaced.status_code == 200
    assert replaced.json()["queues"] == ["exports"]
    new = await client.put("/roles/light", json={"queues": ["default"]})
    assert new.status_code == 201
    deleted = await client.delete("/roles/heavy-workers")
    assert deleted.status_code == 200
    assert (await client.get("/roles/heavy-workers")).status_code == 404


async def test_deleting_a_queue_removes_it_from_roles(client: httpx.AsyncClient) -> None:
    await client.post("/queues", json={"name": "reports"})
    await client.post("/roles", json={"name": "r", "queues": ["default", "reports"]})
    assert (await client.delete("/queues/reports")).status_code == 200
    assert (await client.get("/roles/r")).json()["queues"] == ["default"]


async def test_unknown_queue_in_a_role_is_named(client: httpx.AsyncClient) -> None:
    response = await client.post("/roles", json={"name": "r", "queues": ["default", "ghost"]})
    assert "ghost" in response.json()["detail"][0]["msg"]
