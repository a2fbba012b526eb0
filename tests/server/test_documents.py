"""JSON that parses but cannot be sent back out: a lone surrogate, or nesting 300 deep.

Such parameters are refused with a 422 before anything is stored; such results fail the run
with a clear error; and a record already in Redis that holds one still renders, so it can
never make ``/task-status`` or a ``/task-list`` page answer 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from jobbers.models.task import Task
from jobbers.store.facade import InvalidInput, StateManager
from tests.conftest import wait_status
from tests.server.conftest import Claimer, submit

SURROGATE_BODY = '{"name": "add", "parameters": {"p": "\\ud800"}}'


def nested(depth: int) -> dict[str, Any]:
    """``{"a": {"a": ...}}``, ``depth`` levels deep."""
    doc: dict[str, Any] = {}
    for _ in range(depth):
        doc = {"a": doc}
    return doc


BAD_PARAMETERS = {
    "surrogate": SURROGATE_BODY,
    "300-deep": json.dumps({"name": "add", "parameters": nested(300)}),
}


@pytest.mark.parametrize("kind", BAD_PARAMETERS)
@pytest.mark.parametrize("path", ["/submit-task", "/submit-tasks"])
async def test_unrenderable_parameters_get_422_and_store_nothing(
    client: httpx.AsyncClient, dbsize: Callable[[], int], kind: str, path: str
) -> None:
    body = BAD_PARAMETERS[kind]
    if path == "/submit-tasks":
        body = f'{{"tasks": [{body}]}}'
    before = dbsize()
    response = await client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"][-1] == "parameters"
    assert "UTF-8" in error["msg"] or "deeper than 64" in error["msg"]
    assert dbsize() == before
    listed = await client.get("/task-list", params={"status": "submitted"})
    assert listed.status_code == 200 and listed.json()["items"] == []


@pytest.mark.parametrize("parameters", [{"p": "\ud800"}, nested(65)], ids=["surrogate", "65-deep"])
async def test_the_core_refuses_them_too(
    state: StateManager, dbsize: Callable[[], int], parameters: dict[str, Any]
) -> None:
    before = dbsize()
    with pytest.raises(InvalidInput, match="parameters") as caught:
        await state.submit(Task(name="add", parameters=parameters))
    assert caught.value.field == "parameters"
    assert dbsize() == before


async def test_64_levels_and_astral_characters_are_fine(client: httpx.AsyncClient) -> None:
    # parameters, then 63 more levels: 64 in all, the limit
    task = await submit(client, parameters={"deep": nested(62), "emoji": "\U0001f600"})
    shown = await client.get(f"/task-status/{task['id']}")
    assert shown.status_code == 200
    assert shown.json()["parameters"]["emoji"] == "\U0001f600"


@pytest.mark.parametrize("kind", ["surrogate", "deep"])
async def test_an_unrenderable_result_fails_the_run_clearly(
    state: StateManager, start_worker: Any, kind: str
) -> None:
    await start_worker()
    task = await state.submit_task(Task(name="unrenderable_result", parameters={"kind": kind}))
    failed = await wait_status(state, task.id, "failed")
    assert "results cannot be stored" in (failed.last_error or ""), failed.last_error
    assert failed.results is None
    assert failed.retry_attempt == 0


async def test_a_bad_record_already_stored_still_renders(
    client: httpx.AsyncClient, state: StateManager, claim: Claimer
) -> None:
    """Written straight into Redis (as an older version or another writer might have)."""
    running = await submit(client)
    await claim()
    waiting = await submit(client)
    k = state.keys
    raw = Redis(connection_pool=state.redis.connection_pool)
    await raw.set(
        k.params(running["id"]), '{"p": "\\ud800", "deep": ' + json.dumps(nested(300)) + "}"
    )
    await raw.set(k.results(running["id"]), '{"r": "x\\uDC00y"}')
    record = await raw.hget(k.waiting_records, waiting["id"])
    assert isinstance(record, str)
    head, _ = record.rsplit("\x1f", 1)
    await raw.hset(k.waiting_records, waiting["id"], head + '\x1f{"p": "\\ud800"}')

    shown = await client.get(f"/task-status/{running['id']}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["parameters"]["p"] == "\ufffd"
    assert shown.json()["results"] == {"r": "x\ufffdy"}
    depth, doc = 0, shown.json()["parameters"]["deep"]
    while isinstance(doc, dict):
        depth, doc = depth + 1, doc["a"]
    assert depth < 64 and doc == "<nested deeper than 64 levels>"
    for status in ("started", "submitted", None):
        params = {"status": status} if status else {}
        page = await client.get("/task-list", params=params)
        assert page.status_code == 200, (status, page.text)
        assert page.json()["items"], status
    waiting_shown = await client.get(f"/task-status/{waiting['id']}")
    assert waiting_shown.status_code == 200
    assert waiting_shown.json()["parameters"] == {"p": "\ufffd"}


async def test_an_unencodable_error_message_still_renders(
    client: httpx.AsyncClient, state: StateManager, claim: Claimer
) -> None:
    """A task that raised ``ValueError("\\ud800")``: cjson stores the surrogate as CESU bytes."""
    task = await submit(client)
    await claim()
    k = state.keys
    raw = Redis(connection_pool=state.redis.connection_pool)
    await raw.hset(k.task(task["id"]), "last_error", b"ValueError: \xed\xa0\x80")
    entry = {"attempt": 0, "at": 0, "kind": "error", "message": "ValueError: \ud800"}
    await raw.rpush(k.history(task["id"]), json.dumps(entry))
    shown = await client.get(f"/task-status/{task['id']}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["last_error"].startswith("ValueError: \ufffd")
    assert shown.json()["errors"][0]["message"] == "ValueError: \ufffd"
    page = await client.get("/task-list", params={"status": "started"})
    assert page.status_code == 200 and page.json()["items"][0]["last_error"]
