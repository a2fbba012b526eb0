"""The shared client, awaited directly as the TUI does, against the real app and Redis."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from jobbers.server.app import create_app
from jobbers.server.settings import ServerSettings

from jobbers.api.client import (
    ApiError,
    Conflict,
    InvalidRequest,
    JobbersClient,
    ManagerUnreachable,
    NotFound,
    PayloadTooLarge,
    ServerError,
    ServiceUnavailable,
    SyncJobbersClient,
    Unauthorized,
    UnexpectedResponse,
    format_detail,
)
from jobbers.api.schemas import (
    DLQDeleteRequest,
    DLQResubmitRequest,
    QueueConfig,
    QueueUpdate,
    Role,
    Stats,
    SubmitTaskRequest,
    Task,
    TaskSummary,
)
from jobbers.dev.redis_server import free_port
from jobbers.store.facade import StateManager
from tests.cli.conftest import running_cli

MISSING = "01JBKR2E5F3G4H5J6K7M8N9P0Q"


def client_for(state: StateManager, **settings: object) -> JobbersClient:
    """A client whose transport is the manager app in this process."""
    app = create_app(ServerSettings.model_validate(settings), state=state)
    return JobbersClient("http://manager", transport=httpx.ASGITransport(app=app))


@pytest.fixture
async def api(state: StateManager) -> AsyncIterator[JobbersClient]:
    async with client_for(state) as client:
        yield client


async def test_typed_answers_for_the_tui(api: JobbersClient) -> None:
    submitted = await api.submit_task(SubmitTaskRequest(name="add", parameters={"a": 1, "b": 2}))
    task = await api.get_task(str(submitted.task.id))
    assert isinstance(task, Task) and task.status == "submitted"
    # List rows are the task less its parameters, results and history (and workflow links).
    summary = TaskSummary(
        **task.model_dump(exclude=set(Task.model_fields) - set(TaskSummary.model_fields))
    )
    assert (await api.list_tasks(status="submitted")).items == [summary]
    assert (await api.list_tasks(name="noop")).items == []
    stats = await api.stats()
    assert isinstance(stats, Stats) and stats.queues[0].depth == 1
    assert len(stats.queues[0].series_completed) == 30
    assert len((await api.stats(minutes=90)).queues[0].series_completed) == 90
    assert (await api.active_tasks()).items == []
    assert (await api.scheduled_tasks(queue="default")).items == []
    assert (await api.workers()).workers == []
    assert [q.name for q in (await api.list_queues()).queues] == ["default"]
    assert [r.name for r in (await api.list_roles()).roles] == ["default"]
    cancelled = await api.cancel_task(str(task.id))
    assert cancelled.outcome == "cancelled" and cancelled.task.status == "cancelled"
    retried = await api.retry_task(str(task.id), reset_retry_count=True)
    assert retried.status == "submitted"
    outcomes = await api.cancel_tasks([str(task.id), MISSING])
    assert outcomes.results == {str(task.id): "cancelled", MISSING: "not_found"}
    assert (await api.health()).status == "ok"
    assert "jobbers_" in await api.metrics()


async def test_queue_role_and_dlq_crud(api: JobbersClient) -> None:
    created = await api.create_queue(QueueConfig(name="reports", max_concurrent=2))
    assert created.max_concurrent == 2
    updated = await api.update_queue("reports", QueueUpdate(max_concurrent=3))
    assert updated == await api.get_queue("reports")
    assert (await api.pause_queue("reports")).paused
    assert not (await api.resume_queue("reports")).paused
    assert (await api.purge_queue("reports")).cancelled == 0
    assert (await api.create_role(Role(name="r", queues=["reports"]))).queues == ["reports"]
    assert (await api.set_role("r", ["default"])).queues == ["default"]
    assert await api.get_role("r") == Role(name="r", queues=["default"])
    assert "deleted" in (await api.delete_role("r")).message
    assert "deleted" in (await api.delete_queue("reports")).message
    assert (await api.list_dlq(task_name="boom")).items == []
    resubmitted = await api.resubmit_dlq(DLQResubmitRequest(task_ids=[MISSING]))
    assert resubmitted.resubmitted == 0
    assert (await api.delete_dlq(DLQDeleteRequest(task_ids=[MISSING]))).removed == 0
    with pytest.raises(NotFound):
        await api.dlq_history(MISSING)


async def test_error_statuses_become_typed_exceptions(api: JobbersClient) -> None:
    with pytest.raises(NotFound) as missing:
        await api.get_task(MISSING)
    assert missing.value.status == 404 and str(missing.value) == f"task {MISSING} not found"
    await api.create_queue(QueueConfig(name="q"))
    with pytest.raises(Conflict) as taken:
        await api.create_queue(QueueConfig(name="q"))
    assert taken.value.status == 409 and "already exists" in str(taken.value)
    with pytest.raises(InvalidRequest) as invalid:
        await api.submit_task(SubmitTaskRequest(name="not_registered"))
    assert invalid.value.status == 422 and str(invalid.value).startswith("name: task 'not_regis")
    with pytest.raises(InvalidRequest):
        await api.get_task("not-a-ulid")


async def test_token_is_sent_from_the_environment(
    state: StateManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOBBERS_API_TOKEN", raising=False)
    async with client_for(state, api_token="s3cret") as api:
        with pytest.raises(Unauthorized) as denied:
            await api.stats()
        assert denied.value.status == 401
    monkeypatch.setenv("JOBBERS_API_TOKEN", "s3cret")
    async with client_for(state, api_token="s3cret") as api:
        assert (await api.stats()).workers == 0


async def test_payload_too_large(state: StateManager) -> None:
    async with client_for(state, max_body_bytes=200) as api:
        with pytest.raises(PayloadTooLarge) as big:
            await api.submit_task(SubmitTaskRequest(name="add", parameters={"x": "y" * 500}))
    assert big.value.status == 413


async def test_redis_down_is_service_unavailable() -> None:
    dead = StateManager.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1)
    try:
        async with client_for(dead) as api:
            with pytest.raises(ServiceUnavailable) as down:
                await api.stats()
            assert down.value.status == 503 and "Redis is unavailable" in str(down.value)
            with pytest.raises(ServiceUnavailable) as health:
                await api.health()
            assert "unavailable" in str(health.value)
    finally:
        await dead.close()


async def test_unreachable_manager_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with JobbersClient(url) as api:
        with pytest.raises(ManagerUnreachable) as err:
            await api.stats()
    assert err.value.url == url
    assert str(err.value) == (
        f"cannot reach the jobbers manager at {url}: connection refused "
        "(is it running? set --url or JOBBERS_URL)"
    )


def mock(status: int, body: bytes, content_type: str = "application/json") -> JobbersClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    return JobbersClient("http://mock", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (500, b'{"detail": "internal server error"}', ServerError, "internal server error"),
        (502, b"<html>Bad Gateway</html>", ServerError, "<html>Bad Gateway</html>"),
        (418, b'{"detail": {"why": "teapot"}}', ApiError, "why: teapot"),
        (400, b'{"detail": "bad"}', InvalidRequest, "bad"),
    ],
)
async def test_other_statuses(
    status: int, body: bytes, error: type[ApiError], message: str
) -> None:
    async with mock(status, body) as api:
        with pytest.raises(error) as raised:
            await api.stats()
    assert type(raised.value) is error and str(raised.value) == message
    assert raised.value.path == "/stats" and raised.value.method == "GET"


async def test_an_unexpected_body_is_reported_not_crashed_on() -> None:
    async with mock(200, b'{"something": "else"}') as api:
        with pytest.raises(UnexpectedResponse, match="GET /stats"):
            await api.stats()


def test_format_detail_of_fastapi_validation_errors() -> None:
    detail = [
        {"loc": ["body", "name"], "msg": "Field required", "type": "missing"},
        {"loc": ["query", "limit"], "msg": "too big", "type": "x"},
    ]
    assert format_detail(detail) == "name: Field required; limit: too big"
    assert format_detail(None) == "" and format_detail("plain") == "plain"


def test_sync_face_runs_the_same_client_without_an_event_loop(clean_redis: str) -> None:
    with running_cli(clean_redis) as cli, SyncJobbersClient(transport=cli.transport()) as client:
        assert client.run(client.api.health()).status == "ok"
        answer = client.run(client.api.submit_task(SubmitTaskRequest(name="noop")))
        assert client.run(client.api.get_task(str(answer.task.id))).status == "submitted"
        with pytest.raises(NotFound):
            client.run(client.api.get_task(MISSING))


def test_sync_face_over_real_http_maps_errors_too() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with SyncJobbersClient(url) as client:
        assert client.api.url == url
        with pytest.raises(ManagerUnreachable, match="connection refused"):
            client.run(client.api.stats())


def test_sync_face_refuses_a_call_that_would_suspend() -> None:
    async def suspends() -> None:
        import asyncio

        await asyncio.sleep(0)

    with SyncJobbersClient("http://127.0.0.1:9") as client, pytest.raises(RuntimeError):
        client.run(suspends())


def test_a_manager_that_never_answers_times_out() -> None:
    """A listening socket that never replies: the client gives up with ManagerUnreachable."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        typed = SyncJobbersClient(url, timeout=0.3)
        with typed, pytest.raises(ManagerUnreachable) as slow:
            typed.run(typed.api.health())
    assert str(slow.value) == (
        f"cannot reach the jobbers manager at {url}: no answer in time "
        "(is it running? set --url or JOBBERS_URL)"
    )
