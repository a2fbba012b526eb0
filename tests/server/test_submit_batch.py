"""POST /submit-tasks: up to 1,000 tasks in one call, all or nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ulid import ULID

from tests.server.conftest import Client


async def test_a_batch_is_stored_in_order_and_runs_from_the_queue(client: Client) -> None:
    body = {"tasks": [{"name": "add", "parameters": {"a": i, "b": 1}} for i in range(3)]}
    resp = await client.post("/submit-tasks", json=body)
    assert resp.status_code == 201, resp.text
    answer = resp.json()
    assert answer["created"] == 3 and answer["existing"] == 0
    assert [t["status"] for t in answer["tasks"]] == ["submitted"] * 3
    for i, item in enumerate(answer["tasks"]):
        task = (await client.get(f"/task-status/{item['id']}")).json()
        assert task["parameters"] == {"a": i, "b": 1}
    listed = (await client.get("/task-list", params={"status": "submitted"})).json()
    assert {t["id"] for t in listed["items"]} == {t["id"] for t in answer["tasks"]}


async def test_resending_a_batch_with_ids_is_a_200_that_stores_nothing_new(client: Client) -> None:
    body = {"tasks": [{"id": str(ULID()), "name": "add"} for _ in range(2)]}
    assert (await client.post("/submit-tasks", json=body)).status_code == 201
    again = await client.post("/submit-tasks", json=body)
    assert again.status_code == 200
    assert again.json()["created"] == 0 and again.json()["existing"] == 2
    stats = (await client.get("/stats")).json()
    assert stats["statuses"]["submitted"] == 2


async def test_a_batch_carries_each_tasks_priority_and_compares_it(client: Client) -> None:
    """Priorities (issue 15 part 3): per item, listed and shown, part of the compared body."""
    ids = [str(ULID()) for _ in range(3)]
    body = {
        "tasks": [
            {"id": i, "name": "add", "priority": p} for i, p in zip(ids, (0, 9, 5), strict=True)
        ]
    }
    assert (await client.post("/submit-tasks", json=body)).status_code == 201
    listed = (await client.get("/task-list", params={"status": "submitted"})).json()
    assert {t["id"]: t["priority"] for t in listed["items"]} == dict(
        zip(ids, (0, 9, 5), strict=True)
    )
    body["tasks"][1]["priority"] = 8
    clash = await client.post("/submit-tasks", json=body)
    assert clash.status_code == 409, clash.text
    assert (await client.get(f"/task-status/{ids[1]}")).json()["priority"] == 9
    stats = (await client.get("/stats")).json()
    assert stats["statuses"]["submitted"] == 3
    bad = await client.post("/submit-tasks", json={"tasks": [{"name": "add", "priority": -1}]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "priority"


@pytest.mark.parametrize(
    ("tasks", "status", "where"),
    [
        ([{"name": "add"}, {"name": "no_such_task"}], 422, ["body", "tasks", 1, "name"]),
        ([{"name": "add"}, {"name": "add", "version": 7}], 422, ["body", "tasks", 1, "name"]),
        ([{"name": "add"}, {"name": "add", "queue": "nowhere"}], 422, None),
        ([{"name": "add"}, {"name": "add", "extra": 1}], 422, None),
        ([], 422, None),
        ([{"name": "add"}] * 1001, 422, None),
    ],
    ids=["unknown-task", "unknown-version", "unknown-queue", "extra-field", "empty", "too-many"],
)
async def test_one_bad_task_rejects_the_batch_and_stores_nothing(
    client: Client,
    dbsize: Callable[[], int],
    tasks: list[dict[str, object]],
    status: int,
    where: list[object] | None,
) -> None:
    before = dbsize()
    resp = await client.post("/submit-tasks", json={"tasks": tasks})
    assert resp.status_code == status, resp.text
    if where is not None:
        assert resp.json()["detail"][0]["loc"] == where
    assert dbsize() == before


async def test_a_conflicting_id_is_a_409_and_the_rest_is_not_stored(
    client: Client, dbsize: Callable[[], int]
) -> None:
    taken = str(ULID())
    await client.post("/submit-task", json={"id": taken, "name": "add", "parameters": {"a": 1}})
    before = dbsize()
    body = {
        "tasks": [
            {"name": "add", "parameters": {"a": 5}},
            {"id": taken, "name": "add", "parameters": {"a": 2}},
        ]
    }
    resp = await client.post("/submit-tasks", json=body)
    assert resp.status_code == 409
    assert "Nothing from this batch was stored" in resp.json()["detail"]
    assert dbsize() == before
