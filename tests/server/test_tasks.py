"""Tasks: submit, status, listing, cancel and retry, over the real app and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from jobbers.store.facade import StateManager
from jobbers.store.listings import Key, PageCursor

from .conftest import Claimer, failure, new_id, submit

# ---------------------------------------------------------------- submit


async def test_submit_creates_a_task_with_the_seed_shape(client: httpx.AsyncClient) -> None:
    tid = new_id()
    response = await client.post(
        "/submit-task",
        json={"id": tid, "name": "add", "version": 1, "parameters": {"a": 2, "b": 3}},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "Task submitted successfully"
    task = body["task"]
    assert task["id"] == tid
    assert task["name"] == "add"
    assert task["status"] == "submitted"
    assert task["queue"] == "default"
    assert task["retry_attempt"] == 0
    assert task["submitted_at"] is not None


async def test_submit_without_id_generates_one(client: httpx.AsyncClient) -> None:
    response = await client.post("/submit-task", json={"name": "noop"})
    assert response.status_code == 201
    tid = response.json()["task"]["id"]
    assert (await client.get(f"/task-status/{tid}")).json()["name"] == "noop"


async def test_same_id_same_body_is_idempotent(
    client: httpx.AsyncClient, state: StateManager
) -> None:
    body = {"id": new_id(), "name": "add", "parameters": {"a": 1, "b": 1}}
    first = await client.post("/submit-task", json=body)
    again = await client.post("/submit-task", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["task"]["id"] == body["id"]
    assert again.json()["message"] == "Task submitted successfully"
    page = await state.list_tasks()
    assert [str(t.id) for t in page.items] == [body["id"]]
    stats = await state.stats()
    assert stats.queues[0].depth == 1  # enqueued once, so it runs once


async def test_same_id_other_body_is_409_and_leaves_the_task(client: httpx.AsyncClient) -> None:
    tid = new_id()
    await submit(client, id=tid, parameters={"a": 1, "b": 1})
    response = await client.post(
        "/submit-task", json={"id": tid, "name": "add", "parameters": {"a": 9, "b": 9}}
    )
    assert response.status_code == 409
    assert tid in response.json()["detail"]
    stored = (await client.get(f"/task-status/{tid}")).json()
    assert stored["parameters"] == {"a": 1, "b": 1}


async def test_crockford_spellings_name_the_same_task(client: httpx.AsyncClient) -> None:
    # The user guide's example id has an "L": Crockford base32 reads it as "1".
    response = await client.post(
        "/submit-task", json={"id": "01JBKR2E5F3G4H5J6K7L8M9N0P", "name": "noop"}
    )
    assert response.status_code == 201
    assert response.json()["task"]["id"] == "01JBKR2E5F3G4H5J6K718M9N0P"
    for spelling in ("01JBKR2E5F3G4H5J6K7L8M9N0P", "01jbkr2e5f3g4h5j6k718m9n0p"):
        status = await client.get(f"/task-status/{spelling}")
        assert status.status_code == 200
        assert status.json()["id"] == "01JBKR2E5F3G4H5J6K718M9N0P"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": "nope", "version": 1}, "'nope' version 1"),
        ({"name": "add", "version": 7}, "'add' version 7"),
        ({"name": "add", "queue": "ghost"}, "ghost"),
        ({"name": "add", "id": "not-a-ulid"}, "not a ULID"),
        ({"name": "add", "id": "81JBKR2E5F3G4H5J6K718M9N0P"}, "not a ULID"),
        ({"name": "add", "id": "U1JBKR2E5F3G4H5J6K718M9N0P"}, "not a ULID"),
        ({"version": 1}, "Field required"),
        ({"name": "add", "version": "one"}, "integer"),
        ({"name": "add", "parameters": [1, 2]}, "dictionary"),
        ({"name": "add", "extra": 1}, "Extra inputs"),
        ({"name": "bad name!"}, "invalid name"),
        ({"name": "add", "parameters": {"blob": "x" * (600 * 1024)}}, "larger than"),
    ],
)
async def test_invalid_submissions_are_422_and_store_nothing(
    client: httpx.AsyncClient, dbsize: Callable[[], int], body: dict[str, object], needle: str
) -> None:
    before = dbsize()
    response = await client.post("/submit-task", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list)
    assert needle in " ".join(item["msg"] for item in detail)
    assert dbsize() == before


async def test_unknown_task_points_at_the_name(client: httpx.AsyncClient) -> None:
    response = await client.post("/submit-task", json={"name": "nope"})
    assert response.json()["detail"][0]["loc"] == ["body", "name"]
    assert response.json()["detail"][0]["type"] == "unknown_task"


async def test_nan_parameters_and_broken_json_are_rejected(
    client: httpx.AsyncClient, dbsize: Callable[[], int]
) -> None:
    before = dbsize()
    headers = {"content-type": "application/json"}
    nan = await client.post(
        "/submit-task", content=b'{"name":"add","parameters":{"a":NaN}}', headers=headers
    )
    assert nan.status_code == 422
    broken = await client.post("/submit-task", content=b'{"name": "add",', headers=headers)
    assert broken.status_code == 422
    deep = await client.post("/submit-task", content=b"[" * 50_000, headers=headers)
    assert deep.status_code in (400, 422)
    assert "detail" in deep.json()
    assert dbsize() == before


# ---------------------------------------------------------------- status and listing


async def test_status_returns_the_task_or_404_or_422(client: httpx.AsyncClient) -> None:
    task = await submit(client, parameters={"a": 5, "b": 6})
    ok = await client.get(f"/task-status/{task['id']}")
    assert ok.status_code == 200
    assert ok.json()["parameters"] == {"a": 5, "b": 6}
    assert ok.json()["last_error"] is None
    missing = await client.get(f"/task-status/{new_id()}")
    assert missing.status_code == 404
    assert "not found" in missing.json()["detail"]
    bad = await client.get("/task-status/nope")
    assert bad.status_code == 422


async def test_task_list_filters_by_status_and_queue(client: httpx.AsyncClient) -> None:
    await client.post("/queues", json={"name": "reports"})
    a = await submit(client)
    b = await submit(client, queue="reports")
    await client.post(f"/task/{a['id']}/cancel")

    def ids(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert ids(await client.get("/task-list", params={"status": "cancelled"})) == [a["id"]]
    assert ids(await client.get("/task-list", params={"status": "submitted"})) == [b["id"]]
    assert ids(await client.get("/task-list", params={"queue": "reports"})) == [b["id"]]
    both = await client.get("/task-list", params={"status": "submitted", "queue": "reports"})
    assert ids(both) == [b["id"]]
    blank = await client.get("/task-list?status=&queue=")
    assert sorted(ids(blank)) == sorted([a["id"], b["id"]])


async def test_task_list_pages_with_an_opaque_cursor(client: httpx.AsyncClient) -> None:
    submitted = [(await submit(client))["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"status": "submitted", "limit": "2", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/task-list", params=params)).json()
        seen += [t["id"] for t in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == submitted  # waiting tasks list oldest first
    assert pages == 3


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"status": "bogus"}, 422),
        ({"queue": "ghost"}, 404),
        ({"queue": "bad name"}, 422),
        ({"limit": "0"}, 422),
        ({"limit": "1001"}, 422),
        ({"limit": "many"}, 422),
        ({"cursor": "garbage"}, 422),
        ({"cursor": PageCursor(Key(10**20, "01J00000000000000000000000")).encode()}, 422),
        ({"cursor": PageCursor(Key(1, "not-a-ulid")).encode()}, 422),
        ({"cursor": "x" * 65}, 422),
    ],
)
async def test_task_list_rejects_bad_filters(
    client: httpx.AsyncClient, params: dict[str, str], code: int
) -> None:
    response = await client.get("/task-list", params=params)
    assert response.status_code == code, response.text
    assert "detail" in response.json()


# ---------------------------------------------------------------- cancel


async def test_cancel_a_waiting_task(client: httpx.AsyncClient) -> None:
    task = await submit(client)
    response = await client.post(f"/task/{task['id']}/cancel")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["outcome"]) == (task["id"], "cancelled")
    assert body["task"]["status"] == "cancelled"
    again = await client.post(f"/task/{task['id']}/cancel")
    assert again.status_code == 409
    assert "cancelled" in again.json()["detail"]


async def test_cancel_a_running_task_asks_its_worker(
    client: httpx.AsyncClient, claim: Claimer
) -> None:
    task = await submit(client)
    await claim()
    response = await client.post(f"/task/{task['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["outcome"] == "cancel_requested"
    assert response.json()["task"]["cancel_requested"] is True


async def test_cancel_unknown_or_finished_tasks(
    client: httpx.AsyncClient, state: StateManager, claim: Claimer
) -> None:
    assert (await client.post(f"/task/{new_id()}/cancel")).status_code == 404
    assert (await client.post("/task/xyz/cancel")).status_code == 422
    task = await submit(client)
    run = await claim()
    await state.complete(run.id, run.run_id, {"sum": 3})
    response = await client.post(f"/task/{task['id']}/cancel")
    assert response.status_code == 409
    assert "completed" in response.json()["detail"]


async def test_bulk_cancel_reports_each_id(
    client: httpx.AsyncClient, state: StateManager, claim: Claimer
) -> None:
    done = await submit(client)
    run = await claim()
    await state.complete(run.id, run.run_id, {})
    running = await submit(client)
    await claim()
    waiting = await submit(client)
    ghost = new_id()
    response = await client.post(
        "/tasks/cancel",
        json={"task_ids": [waiting["id"], running["id"], done["id"], ghost, "junk"]},
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[waiting["id"]] == "cancelled"
    assert results[running["id"]] == "cancel_requested"
    assert results[done["id"]].startswith("conflict")
    assert results[ghost] == "not_found"
    assert results["junk"] == "invalid_id"
    empty = await client.post("/tasks/cancel", json={"task_ids": []})
    assert empty.status_code == 422


# ---------------------------------------------------------------- retry


async def test_retry_puts_a_failed_task_back(
    client: httpx.AsyncClient, state: StateManager, claim: Claimer
) -> None:
    task = await submit(client)
    run = await claim()
    await state.fail(run.id, run.run_id, failure())
    response = await client.post(f"/task/{task['id']}/retry", json={"reset_retry_count": True})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "submitted"
    assert response.json()["retry_attempt"] == 0
    assert (await client.get(f"/task-status/{task['id']}")).json()["status"] == "submitted"


async def test_retry_a_cancelled_task_without_a_body(client: httpx.AsyncClient) -> None:
    task = await submit(client)
    await client.post(f"/task/{task['id']}/cancel")
    response = await client.post(f"/task/{task['id']}/retry")
    assert response.status_code == 200
    assert response.json()["status"] == "submitted"


async def test_retry_refuses_waiting_and_unknown_tasks(client: httpx.AsyncClient) -> None:
    task = await submit(client)
    conflict = await client.post(f"/task/{task['id']}/retry")
    assert conflict.status_code == 409
    assert "submitted" in conflict.json()["detail"]
    assert (await client.post(f"/task/{new_id()}/retry")).status_code == 404
    bad = await client.post(f"/task/{task['id']}/retry", json={"reset_retry_count": "maybe"})
    assert bad.status_code == 422


async def test_concurrent_duplicates_store_and_enqueue_once(
    client: httpx.AsyncClient, state: StateManager
) -> None:
    body = {"id": new_id(), "name": "noop", "parameters": {"mark": "dup"}}
    responses = await asyncio.gather(*(client.post("/submit-task", json=body) for _ in range(30)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 29 + [201]
    assert {r.json()["task"]["id"] for r in responses} == {body["id"]}
    assert (await state.stats()).queues[0].depth == 1


# ---------------------------------------------------------------- listing: keys, names, rows


async def test_task_list_pages_neither_skip_nor_repeat_after_retries(
    client: httpx.AsyncClient, state: StateManager
) -> None:
    """``jobbers list --status cancelled -q | jobbers retry -`` pages while it retries."""
    for _ in range(6):
        tid = (await submit(client))["id"]
        assert (await client.post(f"/task/{tid}/cancel")).status_code == 200
    params = {"status": "cancelled", "limit": "2"}
    expected = [
        t["id"]
        for t in (await client.get("/task-list", params={**params, "limit": "100"})).json()["items"]
    ]
    seen: list[str] = []
    cursor = None
    while True:
        body = (
            await client.get(
                "/task-list", params={**params, **({"cursor": cursor} if cursor else {})}
            )
        ).json()
        for item in body["items"]:  # retried as soon as listed: the set shrinks under the pages
            seen.append(item["id"])
            assert (await client.post(f"/task/{item['id']}/retry")).status_code == 200
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


async def test_task_list_and_active_tasks_filter_by_name(
    client: httpx.AsyncClient, claim: Claimer
) -> None:
    add = (await submit(client))["id"]
    noop = (await submit(client, name="noop", parameters={}))["id"]
    running = await claim(key="add@1")
    assert running.id == add
    listed = (await client.get("/active-tasks", params={"name": "add"})).json()
    assert [t["id"] for t in listed["items"]] == [add]
    assert (await client.get("/active-tasks", params={"name": "noop"})).json()["items"] == []
    for tid in (noop,):
        assert (await client.post(f"/task/{tid}/cancel")).status_code == 200
    by_name = (await client.get("/task-list", params={"name": "noop"})).json()
    assert [t["id"] for t in by_name["items"]] == [noop]
    both = (await client.get("/task-list", params={"name": "noop", "status": "cancelled"})).json()
    assert [t["id"] for t in both["items"]] == [noop]
    assert (await client.get("/task-list", params={"name": "add", "status": "cancelled"})).json()[
        "items"
    ] == []


@pytest.mark.parametrize("path", ["/task-list", "/active-tasks"])
@pytest.mark.parametrize("name", ["a b", "a:b", "x" * 65, "-lead"])
async def test_name_filters_are_validated(client: httpx.AsyncClient, path: str, name: str) -> None:
    response = await client.get(path, params={"name": name})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "name"]


async def test_list_rows_leave_out_parameters_results_and_history(
    client: httpx.AsyncClient, claim: Claimer
) -> None:
    big = {"a": 1, "b": 2, "blob": "x" * 10_000}
    tid = (await submit(client, parameters=big))["id"]
    await claim()
    for path in ("/task-list", "/active-tasks"):
        (row,) = (await client.get(path)).json()["items"]
        assert row["id"] == tid and row["name"] == "add" and row["status"] == "started"
        assert not {"parameters", "results", "errors"} & set(row)
    assert (await client.get(f"/task-status/{tid}")).json()["parameters"] == big


async def test_openapi_says_what_list_rows_leave_out(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    summary = schemas["TaskSummary"]
    assert "parameters" not in summary["properties"]
    assert "parameters, results and error history" in summary["description"]
    page = schemas["Page_TaskSummary_"]
    assert page["properties"]["items"]["items"]["$ref"].endswith("/TaskSummary")
