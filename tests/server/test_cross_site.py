"""A manager without a token, and a hostile page in the operator's browser.

The page can POST cross-site (``Origin: http://evil.example``) and, through DNS rebinding,
send requests whose ``Host`` is its own name. Both get 403; the CLI, the TUI and scripts
(httpx: no ``Origin``, a loopback ``Host``) work as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from jobbers.server.app import create_app
from jobbers.server.settings import ServerSettings

from jobbers.api.client import JobbersClient
from jobbers.store.facade import StateManager
from tests.conftest import TASKS_MODULE

from .conftest import manager_process, submit

EVIL = "http://evil.example"


def served(redis_url: str, state: StateManager, **env: str) -> FastAPI:
    """The app as ``jobbers_manager`` builds it: settings from the environment."""
    environ = {"REDIS_URL": redis_url, **env}
    settings = ServerSettings.from_env(tasks_module=TASKS_MODULE, environ=environ)
    app: FastAPI = create_app(settings, state=state)
    return app


def client_at(app: FastAPI, base_url: str) -> httpx.AsyncClient:
    """A client of ``app`` whose requests carry ``base_url``'s host as their Host header."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.fixture
async def local(state: StateManager, clean_redis: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a token-less manager, addressed as the CLI addresses it."""
    async with client_at(served(clean_redis, state), "http://127.0.0.1:8000") as client:
        yield client


async def waiting(client: httpx.AsyncClient) -> int:
    """How many tasks wait on the default queue."""
    page = await client.get("/task-list", params={"status": "submitted"})
    assert page.status_code == 200
    return len(page.json()["items"])


@pytest.mark.parametrize(
    "origin", [EVIL, "null", "http://127.0.0.1:9999", "https://127.0.0.1:8000"]
)
async def test_a_cross_site_purge_is_403_and_purges_nothing(
    local: httpx.AsyncClient, origin: str
) -> None:
    await submit(local)
    refused = await local.post("/queues/default/purge", headers={"Origin": origin})
    assert refused.status_code == 403, refused.text
    assert "cross-site request refused" in refused.json()["detail"]
    assert await waiting(local) == 1


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_every_cross_site_write_is_403(local: httpx.AsyncClient, method: str) -> None:
    paths = {"POST": "/queues/default/pause", "PUT": "/queues/q", "DELETE": "/queues/default"}
    body = {"max_concurrent": 1} if method == "PUT" else None
    refused = await local.request(method, paths[method], json=body, headers={"Origin": EVIL})
    assert refused.status_code == 403, refused.text
    assert (await local.get("/queues")).json()["queues"][0]["paused"] is False
    assert [q["name"] for q in (await local.get("/queues")).json()["queues"]] == ["default"]


async def test_a_rebound_host_cannot_read_or_write(
    state: StateManager, clean_redis: str, local: httpx.AsyncClient
) -> None:
    await submit(local)
    async with client_at(served(clean_redis, state), "http://evil.example:8000") as rebound:
        for method, path in (
            ("GET", "/task-list"),
            ("GET", "/stats"),
            ("POST", "/queues/default/purge"),
        ):
            refused = await rebound.request(method, path)
            assert refused.status_code == 403, (path, refused.text)
            assert "Host 'evil.example:8000' is not allowed" in refused.json()["detail"]
    assert await waiting(local) == 1


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8000", "http://localhost", "http://[::1]:8123", "http://LOCALHOST:1"],
)
async def test_loopback_hosts_and_their_own_origin_are_served(
    state: StateManager, clean_redis: str, base_url: str
) -> None:
    async with client_at(served(clean_redis, state), base_url) as client:
        assert (await client.get("/queues")).status_code == 200
        same = await client.post("/queues/default/pause", headers={"Origin": base_url.lower()})
        assert same.status_code == 200, same.text
        plain = await client.post("/queues/default/resume")  # what httpx clients send
        assert plain.status_code == 200, plain.text


async def test_the_shared_client_works_unchanged(state: StateManager, clean_redis: str) -> None:
    transport = httpx.ASGITransport(app=served(clean_redis, state))
    client = JobbersClient("http://127.0.0.1:8000", transport=transport)
    try:
        assert [q.name for q in (await client.list_queues()).queues] == ["default"]
        assert (await client.pause_queue("default")).paused is True
    finally:
        await client.aclose()


async def test_with_a_token_host_and_origin_are_left_to_the_token(
    state: StateManager, clean_redis: str
) -> None:
    app = served(clean_redis, state, JOBBERS_API_TOKEN="tok")
    async with client_at(app, "http://manager.example:8000") as client:
        auth = {"Authorization": "Bearer tok", "Origin": EVIL}
        assert (await client.post("/queues/default/purge", headers=auth)).status_code == 200


async def test_allowed_hosts_can_be_widened(state: StateManager, clean_redis: str) -> None:
    app = served(clean_redis, state, JOBBERS_ALLOWED_HOSTS="jobs.internal, localhost")
    async with client_at(app, "http://jobs.internal:8000") as client:
        assert (await client.get("/queues")).status_code == 200
    async with client_at(app, "http://127.0.0.1:8000") as client:
        assert (await client.get("/queues")).status_code == 403
    anyhost = served(clean_redis, state, JOBBERS_ALLOWED_HOSTS="*")
    async with client_at(anyhost, "http://whatever:8000") as client:
        assert (await client.get("/queues")).status_code == 200
        refused = await client.post("/queues/default/purge", headers={"Origin": EVIL})
        assert refused.status_code == 403


async def test_the_real_manager_refuses_the_page_and_serves_the_cli(
    clean_redis: str, tmp_path: Path
) -> None:
    async with manager_process(clean_redis, tmp_path / "manager.log") as (client, port):
        purge = "/queues/default/purge"
        assert (await client.post(purge, headers={"Origin": EVIL})).status_code == 403
        rebound = await client.get("/task-list", headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 403
        assert (await client.post(purge)).status_code == 200
