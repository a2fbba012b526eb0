"""Delayed submit and schedules over HTTP (issue 15 §1 and §2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from jobbers.store.facade import StateManager

from .conftest import new_id

NIGHTLY = {
    "name": "nightly",
    "task": {"name": "add", "queue": "default", "parameters": {"a": 1, "b": 2}},
    "cron": "0 3 * * *",
    "timezone": "Europe/Paris",
}


def locs(response: httpx.Response) -> list[list[Any]]:
    return [entry["loc"] for entry in response.json()["detail"]]


# ------------------------------------------------------------------ delayed submit


async def test_submit_with_delay_is_scheduled_and_listed(client: httpx.AsyncClient) -> None:
    body = {"id": new_id(), "name": "add", "parameters": {"a": 1, "b": 1}, "delay": 60}
    created = await client.post("/submit-task", json=body)
    assert created.status_code == 201, created.text
    task = created.json()["task"]
    assert task["status"] == "scheduled" and task["scheduled_for"] is not None
    listed = (await client.get("/scheduled-tasks")).json()
    assert [t["id"] for t in listed["items"]] == [body["id"]]
    again = await client.post("/submit-task", json=body)
    assert again.status_code == 200
    other = await client.post("/submit-task", json={**body, "delay": 61})
    assert other.status_code == 409
    cancelled = await client.post(f"/task/{body['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text


async def test_submit_with_run_at(client: httpx.AsyncClient) -> None:
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    response = await client.post("/submit-task", json={"name": "add", "run_at": soon})
    assert response.status_code == 201, response.text
    assert response.json()["task"]["status"] == "scheduled"
    past = "2020-01-01T00:00:00+00:00"
    task = (await client.post("/submit-task", json={"name": "add", "run_at": past})).json()
    assert task["task"]["status"] == "submitted"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"run_at": "2026-12-08T09:00:00"}, "run_at"),  # no timezone
        ({"run_at": "tomorrow"}, "run_at"),
        ({"run_at": 1765000000}, "run_at"),
        ({"run_at": "2099-01-01T00:00:00+00:00"}, "run_at"),  # more than a year ahead
        ({"delay": -1}, "delay"),
        ({"delay": "5"}, "delay"),
        ({"delay": 400 * 86400}, "delay"),
    ],
)
async def test_bad_times_are_422_and_store_nothing(
    client: httpx.AsyncClient, dbsize: Callable[[], int], extra: dict[str, Any], field: str
) -> None:
    before = dbsize()
    response = await client.post("/submit-task", json={"name": "add", **extra})
    assert response.status_code == 422, response.text
    assert any(field in loc for loc in locs(response)), response.text
    assert dbsize() == before


async def test_run_at_and_delay_together_are_422(client: httpx.AsyncClient) -> None:
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    body = {"name": "add", "delay": 5, "run_at": soon}
    response = await client.post("/submit-task", json=body)
    assert response.status_code == 422 and "not both" in response.text


async def test_a_batch_item_may_be_delayed(client: httpx.AsyncClient) -> None:
    body = {"tasks": [{"name": "add"}, {"name": "add", "delay": 30}]}
    response = await client.post("/submit-tasks", json=body)
    assert response.status_code == 201, response.text
    assert [t["status"] for t in response.json()["tasks"]] == ["submitted", "scheduled"]


# ------------------------------------------------------------------ schedules


async def test_schedule_lifecycle(client: httpx.AsyncClient, state: StateManager) -> None:
    created = await client.post("/schedules", json=NIGHTLY)
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["next_fire_at"] is not None and view["last_fire_at"] is None
    assert view["overlap"] == "skip" and view["missed"] == "skip" and view["enabled"]
    assert (await client.post("/schedules", json=NIGHTLY)).status_code == 409
    listed = (await client.get("/schedules")).json()["schedules"]
    assert [s["name"] for s in listed] == ["nightly"]
    got = (await client.get("/schedules/nightly")).json()
    assert got == view

    body = {k: v for k, v in NIGHTLY.items() if k not in ("name", "cron")} | {"every": 60}
    put = await client.put("/schedules/nightly", json=body)
    assert put.status_code == 200 and put.json()["every"] == 60 and put.json()["cron"] is None
    assert (await client.put("/schedules/other", json=body)).status_code == 201

    paused = (await client.post("/schedules/nightly/pause")).json()
    assert not paused["enabled"] and paused["next_fire_at"] is None
    resumed = (await client.post("/schedules/nightly/resume")).json()
    assert resumed["enabled"] and resumed["next_fire_at"] is not None

    fired = await client.post("/schedules/nightly/trigger")
    assert fired.status_code == 201, fired.text
    tid = fired.json()["task"]["id"]
    assert fired.json()["task"]["status"] == "submitted"
    after = (await client.get("/schedules/nightly")).json()
    assert after["last_task_id"] == tid and after["last_fire_at"] is not None

    assert (await client.delete("/schedules/nightly")).status_code == 200
    assert (await client.get("/schedules/nightly")).status_code == 404
    assert (await client.post("/schedules/nightly/trigger")).status_code == 404
    assert (await client.post("/schedules/nightly/pause")).status_code == 404


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"cron": "0 3 * *"}, ["body", "cron"]),
        ({"timezone": "Europe/Atlantis"}, ["body", "timezone"]),
        ({"task": {"name": "no_such_task"}}, ["body", "task", "name"]),
        ({"task": {"name": "add", "queue": "ghost"}}, ["body", "task", "queue"]),
        ({"every": 60}, ["body"]),  # both cron and every
        ({"overlap": "sometimes"}, ["body", "overlap"]),
        ({"missed": "twice"}, ["body", "missed"]),
    ],
)
async def test_bad_schedules_are_422_naming_the_field(
    client: httpx.AsyncClient, dbsize: Callable[[], int], change: dict[str, Any], loc: list[Any]
) -> None:
    before = dbsize()
    response = await client.post("/schedules", json=NIGHTLY | change)
    assert response.status_code == 422, response.text
    assert loc in locs(response), response.text
    assert dbsize() == before


async def test_a_mismatched_put_name_is_422(client: httpx.AsyncClient) -> None:
    response = await client.put("/schedules/a", json=NIGHTLY)
    assert response.status_code == 422 and ["body", "name"] in locs(response)


async def test_an_unreadable_stored_schedule_never_500s(
    client: httpx.AsyncClient, state: StateManager
) -> None:
    await state.redis.hset(state.keys.schedules, "bad", '{"task": 3}')
    assert (await client.get("/schedules")).status_code == 200
    assert (await client.get("/schedules/bad")).status_code == 404
    assert (await client.post("/schedules/bad/pause")).status_code == 409
