"""Cross-cutting behaviour: body limit, Redis outage and recovery, auth, the OpenAPI document."""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from redis import Redis as SyncRedis

from jobbers.dev.redis_server import RedisServer, free_port
from jobbers.store.facade import StateManager
from tests.conftest import eventually

from .conftest import client_for, make_app, new_id

TID = "01JBKR2E5F3G4H5J6K718M9N0P"

# Every operation, as (method, path template, path values, body): a request that reaches
# its handler. The outage and auth sweeps send each one.
TEMPLATES: list[tuple[str, str, dict[str, str], Any]] = [
    ("POST", "/submit-task", {}, {"name": "noop"}),
    ("POST", "/submit-tasks", {}, {"tasks": [{"name": "noop"}]}),
    ("GET", "/task-status/{task_id}", {}, None),
    ("GET", "/task-list", {}, None),
    ("POST", "/task/{task_id}/cancel", {}, None),
    ("POST", "/tasks/cancel", {}, {"task_ids": [TID]}),
    ("POST", "/task/{task_id}/retry", {}, None),
    ("GET", "/queues", {}, None),
    ("POST", "/queues", {}, {"name": "q1"}),
    ("GET", "/queues/{name}/config", {}, None),
    ("PUT", "/queues/{name}", {"name": "q2"}, {"max_concurrent": 1}),
    ("DELETE", "/queues/{name}", {"name": "q3"}, None),
    ("POST", "/queues/{name}/pause", {}, None),
    ("POST", "/queues/{name}/resume", {}, None),
    ("POST", "/queues/{name}/purge", {}, None),
    ("GET", "/roles", {}, None),
    ("POST", "/roles", {}, {"name": "r1", "queues": []}),
    ("GET", "/roles/{role_name}", {}, None),
    ("PUT", "/roles/{role_name}", {"role_name": "r2"}, {"queues": []}),
    ("DELETE", "/roles/{role_name}", {"role_name": "r3"}, None),
    # Schedules (issue 15 §2)
    ("GET", "/schedules", {}, None),
    ("POST", "/schedules", {}, {"name": "s1", "task": {"name": "noop"}, "every": 60}),
    ("GET", "/schedules/{schedule_name}", {}, None),
    ("PUT", "/schedules/{schedule_name}", {}, {"task": {"name": "noop"}, "every": 60}),
    ("DELETE", "/schedules/{schedule_name}", {"schedule_name": "s2"}, None),
    ("POST", "/schedules/{schedule_name}/pause", {}, None),
    ("POST", "/schedules/{schedule_name}/resume", {}, None),
    ("POST", "/schedules/{schedule_name}/trigger", {}, None),
    ("GET", "/dead-letter-queue", {}, None),
    ("GET", "/dead-letter-queue/{task_id}/history", {}, None),
    ("POST", "/dead-letter-queue/resubmit", {}, {"task_ids": [TID]}),
    ("DELETE", "/dead-letter-queue", {}, {"task_ids": [TID]}),
    ("GET", "/active-tasks", {}, None),
    ("GET", "/scheduled-tasks", {}, None),
    ("GET", "/workers", {}, None),
    ("GET", "/stats", {}, None),
    ("GET", "/metrics", {}, None),
    ("POST", "/submit-workflow", {}, {"tasks": [{"key": "a", "name": "noop"}]}),
    ("GET", "/workflows", {}, None),
    ("GET", "/workflows/{workflow_id}", {}, None),
    ("POST", "/workflows/{workflow_id}/cancel", {}, None),
]
DEFAULTS = {
    "task_id": TID,
    "name": "default",
    "role_name": "default",
    "schedule_name": "s0",
    "workflow_id": TID,
}
OPERATIONS = [
    (method, template.format(**{**DEFAULTS, **values}), body)
    for method, template, values, body in TEMPLATES
]


def test_the_sweep_covers_every_operation(app: FastAPI) -> None:
    documented = {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        # /events streams until the client leaves; tests/server/test_events.py covers its
        # 4xx and 503 answers on a real server.
        if path not in ("/health", "/events")
    }
    assert {(method, template) for method, template, _, _ in TEMPLATES} == documented


# ---------------------------------------------------------------- body limit


async def test_declared_oversize_body_is_413(
    state: StateManager, clean_redis: str, dbsize: Callable[[], int]
) -> None:
    app = make_app(clean_redis, state, max_body_bytes=1024)
    before = dbsize()
    async with client_for(app) as client:
        body = {"name": "noop", "parameters": {"blob": "x" * 2000}}
        response = await client.post("/submit-task", json=body)
        assert response.status_code == 413
        assert response.json() == {"detail": "request body is larger than 1024 bytes"}
        assert dbsize() == before
        small = await client.post("/submit-task", json={"name": "noop"})
        assert small.status_code == 201


async def test_streamed_oversize_body_is_413(
    state: StateManager, clean_redis: str, dbsize: Callable[[], int]
) -> None:
    app = make_app(clean_redis, state, max_body_bytes=1024)
    before = dbsize()

    async def chunks() -> Any:
        yield b'{"name": "noop", "parameters": {"blob": "'
        for _ in range(10):
            yield b"x" * 200
        yield b'"}}'

    async with client_for(app) as client:
        response = await client.post(
            "/submit-task", content=chunks(), headers={"content-type": "application/json"}
        )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert "1024 bytes" in response.json()["detail"]
    assert dbsize() == before


async def test_default_limit_is_one_mebibyte(
    client: httpx.AsyncClient, dbsize: Callable[[], int]
) -> None:
    before = dbsize()
    body = json.dumps({"name": "noop", "parameters": {"blob": "x" * (1024 * 1024)}})
    response = await client.post(
        "/submit-task", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert dbsize() == before


async def test_invalid_content_length_is_400(app: FastAPI) -> None:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/submit-task",
        "raw_path": b"/submit-task",
        "query_string": b"",
        "headers": [(b"content-length", b"lots"), (b"content-type", b"application/json")],
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"]) == {"detail": "invalid Content-Length header"}


async def test_client_junk_is_never_a_500(client: httpx.AsyncClient) -> None:
    junk = [
        ("POST", "/submit-task", b"not json", "application/json"),
        ("POST", "/submit-task", b"name=noop", "application/x-www-form-urlencoded"),
        ("POST", "/submit-task", b'{"name": "noop"}', "text/plain"),
        ("POST", "/submit-task", b"\xff\xfe", "application/json"),
        ("POST", "/tasks/cancel", b'{"task_ids": [1, 2]}', "application/json"),
        ("PUT", "/queues/default", b"[]", "application/json"),
        ("POST", "/roles", b"null", "application/json"),
        ("DELETE", "/dead-letter-queue", b'{"task_ids": null, "limit": "x"}', "application/json"),
    ]
    for method, path, content, ctype in junk:
        response = await client.request(
            method, path, content=content, headers={"content-type": ctype}
        )
        assert 400 <= response.status_code < 500, (path, content, response.text)
        assert "detail" in response.json()
    assert (await client.get("/nowhere")).status_code == 404
    assert (await client.put("/task-list")).status_code == 405


# ---------------------------------------------------------------- Redis outage


async def test_redis_outage_is_503_everywhere_and_recovers(tmp_path: Path) -> None:
    server = RedisServer(free_port(), tmp_path / "redis").start()
    app = make_app(server.url)
    try:
        async with client_for(app) as client:
            first = await client.post("/submit-task", json={"id": new_id(), "name": "noop"})
            assert first.status_code == 201
            kept = first.json()["task"]["id"]
            server.stop()

            health = await client.get("/health")
            assert health.status_code == 503
            assert health.json()["status"] == "unavailable"
            assert health.json()["redis"] is False
            for method, path, body in OPERATIONS:
                started = time.monotonic()
                response = await client.request(method, path, json=body)
                took = time.monotonic() - started
                assert response.status_code == 503, (method, path, response.text)
                assert response.json()["detail"].startswith("Redis is unavailable: ")
                assert response.headers["retry-after"] == "2"
                assert took < 1.0, (method, path, took)

            server.start()

            async def healthy() -> bool:
                return (await client.get("/health")).status_code == 200

            await eventually(healthy, what="the manager to see Redis again")
            again = await client.post("/submit-task", json={"name": "noop"})
            assert again.status_code == 201
            assert (await client.get(f"/task-status/{kept}")).status_code == 200
    finally:
        server.stop()
        await app.state.runtime.close()


async def test_a_hung_redis_is_503_after_the_socket_timeout(tmp_path: Path) -> None:
    server = RedisServer(free_port(), tmp_path / "redis").start()
    app = make_app(server.url, redis_timeout_s=0.3)
    assert server.process is not None
    try:
        async with client_for(app) as client:
            assert (await client.get("/stats")).status_code == 200
            server.process.send_signal(signal.SIGSTOP)
            try:
                started = time.monotonic()
                response = await client.get("/stats")
                assert response.status_code == 503
                assert "Redis is unavailable" in response.json()["detail"]
                assert time.monotonic() - started < 2
            finally:
                server.process.send_signal(signal.SIGCONT)

            async def answers() -> bool:
                return (await client.get("/stats")).status_code == 200

            await eventually(answers, what="the manager to use Redis again")
    finally:
        server.stop()
        await app.state.runtime.close()


async def test_defaults_are_ensured_once_redis_answers(tmp_path: Path) -> None:
    port = free_port()
    server = RedisServer(port, tmp_path / "redis")
    app = make_app(server.url)  # Redis is not running yet
    try:
        async with client_for(app) as client:
            assert (await client.get("/queues")).status_code == 503
            server.start()
            response = await client.get("/queues")
            assert response.status_code == 200
            assert [q["name"] for q in response.json()["queues"]] == ["default"]
    finally:
        server.stop()
        await app.state.runtime.close()


# ---------------------------------------------------------------- auth


async def test_without_a_token_everything_is_open(client: httpx.AsyncClient) -> None:
    for method, path, body in OPERATIONS:
        response = await client.request(method, path, json=body)
        assert response.status_code != 401, (method, path)
    assert (await client.get("/openapi.json")).status_code == 200
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text


async def test_with_a_token_only_health_is_open(state: StateManager, clean_redis: str) -> None:
    app = make_app(clean_redis, state, api_token="s3cret")
    async with client_for(app) as anonymous:
        assert (await anonymous.get("/health")).status_code == 200
        for method, path, body in [
            *OPERATIONS,
            ("GET", "/openapi.json", None),
            ("GET", "/docs", None),
        ]:
            response = await anonymous.request(method, path, json=body)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json() == {"detail": "missing or invalid bearer token"}
            assert response.headers["www-authenticate"] == "Bearer"
        # Rejected before anything is read or stored.
        assert (await state.list_queues())[0].name == "default"
        assert len(await state.list_queues()) == 1
    for headers in (
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic czNjcmV0"},
        {"Authorization": "Bearer s3cret2"},
        {"Authorization": "s3cret"},
    ):
        async with client_for(app, **headers) as wrong:
            assert (await wrong.get("/stats")).status_code == 401, headers
    async with client_for(app, Authorization="Bearer s3cret") as authorized:
        for method, path, body in OPERATIONS:
            response = await authorized.request(method, path, json=body)
            assert response.status_code != 401, (method, path)
        assert (await authorized.get("/openapi.json")).status_code == 200
        assert (await authorized.get("/metrics")).status_code == 200


# ---------------------------------------------------------------- OpenAPI


async def test_openapi_types_every_endpoint(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operations = [(m.lower(), t) for m, t, _, _ in TEMPLATES if t != "/metrics"]
    for method, path in [*operations, ("get", "/health")]:
        operation = document["paths"][path][method]
        ok = operation["responses"]["201" if "201" in operation["responses"] else "200"]
        schema = ok["content"]["application/json"]["schema"]
        assert "$ref" in schema, (method, path, schema)
        if "requestBody" in operation:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert "$ref" in body or "anyOf" in body, (method, path, body)
        assert operation["description"], (method, path)
        for status in ("401", "503"):
            if path != "/health":
                assert status in operation["responses"], (method, path, status)


async def test_openapi_documents_errors_and_metrics(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    submit = document["paths"]["/submit-task"]["post"]["responses"]
    assert {"200", "201", "401", "409", "413", "422", "503"} <= set(submit)
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    assert "HTTPBearer" in document["components"]["securitySchemes"]


@contextlib.asynccontextmanager
async def manager_on_own_redis(
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, SyncRedis]]:
    """A manager on a Redis of the test's own (whose settings it may change), its defaults
    in place, with a client of the manager and one of that Redis; all stopped afterwards."""
    server = RedisServer(free_port(), tmp_path / "redis").start()
    app = make_app(server.url)
    admin = SyncRedis.from_url(server.url)
    try:
        async with client_for(app) as client:
            assert (await client.get("/queues")).status_code == 200  # defaults in place
            yield client, admin
    finally:
        admin.close()
        server.stop()
        await app.state.runtime.close()


async def test_redis_out_of_memory_is_503_and_stores_nothing(tmp_path: Path) -> None:
    async with manager_on_own_redis(tmp_path) as (client, admin):
        before = admin.dbsize()
        admin.config_set("maxmemory", 1)
        response = await client.post("/submit-task", json={"name": "noop"})
        assert response.status_code == 503, response.text
        assert response.json()["detail"].startswith("Redis is out of memory")
        assert response.headers["retry-after"] == "2"
        assert (await client.post("/queues", json={"name": "q"})).status_code == 503
        assert (await client.get("/queues")).status_code == 200  # reads still work
        assert admin.dbsize() == before
        admin.config_set("maxmemory", 0)
        assert (await client.post("/submit-task", json={"name": "noop"})).status_code == 201


async def test_filling_a_small_maxmemory_gives_503_out_of_memory_never_500(
    tmp_path: Path,
) -> None:
    """noeviction and a few MiB of headroom, filled through the API until Redis refuses."""
    async with manager_on_own_redis(tmp_path) as (client, admin):
        used = int(admin.info("memory")["used_memory"])
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", used + 4 * 1024 * 1024)
        stored: list[str] = []
        refused = None
        for _ in range(200):
            tid = new_id()
            body = {"id": tid, "name": "noop", "parameters": {"blob": "x" * 100_000}}
            response = await client.post("/submit-task", json=body)
            if response.status_code != 201:
                refused = response
                break
            stored.append(tid)
        assert refused is not None and stored, "Redis never filled up"
        assert refused.status_code == 503, refused.text
        assert refused.json()["detail"].startswith("Redis is out of memory"), refused.text
        assert refused.headers["retry-after"] == "2"
        for method, path, body in OPERATIONS:
            answer = await client.request(method, path, json=body)
            assert answer.status_code != 500, (method, path, answer.text)
            if answer.status_code == 503:
                assert answer.json()["detail"].startswith("Redis is out of memory"), path
        assert (await client.get(f"/task-status/{stored[0]}")).status_code == 200
        assert (await client.get("/task-list")).status_code == 200
        admin.config_set("maxmemory", 0)
        assert (await client.post("/submit-task", json={"name": "noop"})).status_code == 201
