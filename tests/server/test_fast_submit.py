"""POST /submit-task's short way (server/fast_submit.py): on, and answering as FastAPI does."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from jobbers.server.fast_submit import FastSubmitMiddleware

from jobbers.store.facade import StateManager

from .conftest import client_for, make_app, new_id

# A content type FastAPI reads as JSON but the short way leaves to it: the full path.
FULL_PATH = {"content-type": "application/json; charset=utf-8"}


def short_way(app: FastAPI) -> FastSubmitMiddleware | None:
    """The short way in the app's middleware stack, if there is one."""
    layer: Any = app.build_middleware_stack()
    while layer is not None:
        if isinstance(layer, FastSubmitMiddleware):
            return layer
        layer = getattr(layer, "app", None)
    return None


async def test_single_submits_take_the_short_way(app: FastAPI) -> None:
    layer = short_way(app)
    # Off only if the submit route's signature changed: then every submit pays FastAPI's cost.
    assert layer is not None and layer.enabled


async def test_short_and_full_paths_answer_alike(client: httpx.AsyncClient) -> None:
    body = {"id": new_id(), "name": "add", "parameters": {"a": 1, "b": 2}}
    short = await client.post("/submit-task", json=body)
    full = await client.post("/submit-task", json=body, headers=FULL_PATH)
    short_again = await client.post("/submit-task", json=body)
    assert (short.status_code, full.status_code, short_again.status_code) == (201, 200, 200)
    assert short.json() == full.json() == short_again.json()
    assert short.json()["task"]["id"] == body["id"]
    for response in (short, full, short_again):
        assert response.headers["content-type"] == "application/json"
        assert int(response.headers["content-length"]) == len(response.content)
    # A different body under the same id: the route's own 409, through the short way too.
    conflict = await client.post("/submit-task", json={**body, "parameters": {"a": 2}})
    assert conflict.status_code == 409


async def test_errors_of_the_short_way_are_the_apps(
    client: httpx.AsyncClient, state: StateManager
) -> None:
    unknown = await client.post("/submit-task", json={"name": "no_such_task"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "name"]
    queue = await client.post("/submit-task", json={"name": "noop", "queue": "nowhere"})
    assert queue.status_code == 422
    assert queue.json()["detail"][0]["loc"] == ["body", "queue"]
    refused = await client.post("/submit-task", json={"name": "noop", "extra": 1})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "extra"]
    assert (await state.list_tasks()).items == []


async def test_the_token_is_checked_on_the_short_way(state: StateManager, clean_redis: str) -> None:
    app = make_app(clean_redis, state, api_token="s3cret")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cret2"}):
        async with client_for(app, **headers) as wrong:
            response = await wrong.post("/submit-task", json={"name": "noop"})
            assert response.status_code == 401, headers
    assert (await state.list_tasks()).items == []
    async with client_for(app, Authorization="Bearer s3cret") as authorized:
        assert (await authorized.post("/submit-task", json={"name": "noop"})).status_code == 201
    assert len((await state.list_tasks()).items) == 1


async def test_dependency_overrides_still_apply(app: FastAPI, state: StateManager) -> None:
    from jobbers.server.deps import get_state

    used: list[str] = []

    async def overridden() -> StateManager:
        used.append("override")
        return state

    app.dependency_overrides[get_state] = overridden
    async with client_for(app) as client:
        assert (await client.post("/submit-task", json={"name": "noop"})).status_code == 201
    assert used == ["override"]
