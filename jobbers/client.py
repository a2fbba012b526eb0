"""The typed HTTP client of the manager API, shared by the CLI and the TUI.

``JobbersClient`` is async (the TUI awaits it); ``SyncJobbersClient`` runs the same client
over a blocking transport for the CLI, with no event loop. Every method returns the
pydantic models the server declares as ``response_model`` (``jobbers.schemas``), so both
sides agree by construction. Neither this module nor its callers import redis: the manager
is the only way in.

Where the manager is, the token, the transports and the error tree (``ClientError`` and its
subclasses, re-exported here) live in ``jobbers.client_core``, which has no models: the
CLI's quick ``jobbers status`` stands on it alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from jobbers.client_core import (
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    LONG_TIMEOUT,
    ApiError,
    ClientError,
    Conflict,
    InvalidRequest,
    ManagerUnreachable,
    NotFound,
    PayloadTooLarge,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    UnexpectedResponse,
    blocking_transport_for,
    checked,
    client_settings,
    format_detail,
    query_params,
    reaching,
    resolve_url,
    transport_for,
)
from jobbers.models.dashboard import Page
from jobbers.models.workflow import (
    Workflow,
    WorkflowCancelled,
    WorkflowRequest,
    WorkflowSubmitted,
    WorkflowSummary,
)
from jobbers.schemas import (
    ActiveTaskPage,
    CancelManyRequest,
    CancelResponse,
    DLQDeleteRequest,
    DLQDeleteResponse,
    DLQHistoryResponse,
    DLQResubmitRequest,
    DLQResubmitResponse,
    Health,
    Message,
    OutcomesResponse,
    PurgeResponse,
    QueueConfig,
    QueuesResponse,
    QueueUpdate,
    RetryRequest,
    Role,
    RolesResponse,
    RoleUpdate,
    ScheduledTaskPage,
    Stats,
    SubmitTaskRequest,
    SubmitTaskResponse,
    SubmitTasksRequest,
    SubmitTasksResponse,
    Task,
    TaskPage,
    TaskStatus,
    WorkersResponse,
)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

__all__ = [
    "DEFAULT_URL",
    "ApiError",
    "ClientError",
    "Conflict",
    "InvalidRequest",
    "JobbersClient",
    "ManagerUnreachable",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "ServiceUnavailable",
    "SyncJobbersClient",
    "Unauthorized",
    "UnexpectedResponse",
    "format_detail",
]


class JobbersClient:
    """Async client of the manager API: one method per endpoint, typed answers."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = resolve_url(url)
        self._http = httpx.AsyncClient(
            **client_settings(self.url, token, timeout),
            transport=transport or transport_for(self.url),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # ------------------------------------------------------------------ plumbing

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        wait_s: float | None = None,
    ) -> httpx.Response:
        """Send one request; transport errors and error statuses become ClientErrors.

        ``wait_s`` overrides the client's timeout for this call (long operations).
        """
        extra: dict[str, Any] = {} if wait_s is None else {"timeout": wait_s}
        with reaching(self.url):
            response = await self._http.request(method, path, json=json, params=params, **extra)
        return checked(response)

    async def _get(self, path: str, model: type[M], **query: Any) -> M:
        return _parse(model, await self.request("GET", path, params=query_params(**query)))

    async def _send(
        self, method: str, path: str, model: type[M], body: Any = None, wait_s: float | None = None
    ) -> M:
        return _parse(model, await self.request(method, path, json=_body(body), wait_s=wait_s))

    # ------------------------------------------------------------------ tasks

    async def submit_task(self, request: SubmitTaskRequest) -> SubmitTaskResponse:
        """Submit a task (idempotent on its id)."""
        return await self._send("POST", "/submit-task", SubmitTaskResponse, request)

    async def submit_tasks(self, request: SubmitTasksRequest) -> SubmitTasksResponse:
        """Submit up to 1,000 tasks in one round trip, all or nothing (idempotent on ids)."""
        return await self._send("POST", "/submit-tasks", SubmitTasksResponse, request)

    async def get_task(self, task_id: str) -> Task:
        """One task with its parameters, results and error history."""
        return await self._get(f"/task-status/{task_id}", Task)

    async def list_tasks(
        self,
        status: TaskStatus | str | None = None,
        queue: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        name: str | None = None,
    ) -> TaskPage:
        """A page of tasks filtered by status, queue and/or task name.

        Rows leave out parameters, results and error history (``get_task`` has them).
        """
        return await self._get(
            "/task-list",
            TaskPage,
            status=status,
            queue=queue,
            limit=limit,
            cursor=cursor,
            name=name,
        )

    async def cancel_task(self, task_id: str) -> CancelResponse:
        """Cancel one task: at once if waiting, by signal if running."""
        return await self._send("POST", f"/task/{task_id}/cancel", CancelResponse)

    async def cancel_tasks(self, task_ids: Sequence[str]) -> OutcomesResponse:
        """Cancel many tasks; one outcome per id."""
        body = CancelManyRequest(task_ids=list(task_ids))
        return await self._send("POST", "/tasks/cancel", OutcomesResponse, body)

    async def retry_task(self, task_id: str, reset_retry_count: bool = False) -> Task:
        """Put a failed, stalled or cancelled task back on its queue."""
        body = RetryRequest(reset_retry_count=reset_retry_count)
        return await self._send("POST", f"/task/{task_id}/retry", Task, body)

    async def active_tasks(
        self,
        queue: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        name: str | None = None,
    ) -> ActiveTaskPage:
        """Running tasks, oldest start first, with elapsed time and heartbeat age."""
        return await self._get(
            "/active-tasks", ActiveTaskPage, queue=queue, limit=limit, cursor=cursor, name=name
        )

    async def scheduled_tasks(
        self, queue: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> ScheduledTaskPage:
        """Tasks waiting for a retry, soonest due first, with the seconds until due."""
        return await self._get(
            "/scheduled-tasks", ScheduledTaskPage, queue=queue, limit=limit, cursor=cursor
        )

    # ------------------------------------------------------------------ system

    async def workers(self) -> WorkersResponse:
        """Live workers with their in-flight tasks."""
        return await self._get("/workers", WorkersResponse)

    async def stats(self, minutes: int | None = None) -> Stats:
        """Everything a dashboard frame needs, in one call (``minutes`` of history, 1-120)."""
        return await self._get("/stats", Stats, minutes=minutes)

    async def health(self) -> Health:
        """Liveness of the manager and its Redis (ServiceUnavailable when Redis is down)."""
        return await self._get("/health", Health)

    async def metrics(self) -> str:
        """The Prometheus exposition text."""
        return (await self.request("GET", "/metrics")).text

    # ------------------------------------------------------------------ queues

    async def list_queues(self) -> QueuesResponse:
        """Every queue, sorted by name."""
        return await self._get("/queues", QueuesResponse)

    async def get_queue(self, name: str) -> QueueConfig:
        """One queue's configuration."""
        return await self._get(f"/queues/{name}/config", QueueConfig)

    async def create_queue(self, config: QueueConfig) -> QueueConfig:
        """Create a queue (Conflict if the name is taken)."""
        return await self._send("POST", "/queues", QueueConfig, config)

    async def update_queue(self, name: str, update: QueueUpdate) -> QueueConfig:
        """Create or replace a queue's limits."""
        return await self._send("PUT", f"/queues/{name}", QueueConfig, update)

    async def delete_queue(self, name: str) -> Message:
        """Delete an empty queue (Conflict while it holds tasks)."""
        return await self._send("DELETE", f"/queues/{name}", Message)

    async def pause_queue(self, name: str) -> QueueConfig:
        """Stop workers from starting the queue's tasks (it still accepts them)."""
        return await self._send("POST", f"/queues/{name}/pause", QueueConfig)

    async def resume_queue(self, name: str) -> QueueConfig:
        """Let workers start the queue's tasks again."""
        return await self._send("POST", f"/queues/{name}/resume", QueueConfig)

    async def purge_queue(self, name: str) -> PurgeResponse:
        """Cancel every waiting task of the queue (may take a while on a deep queue)."""
        return await self._send("POST", f"/queues/{name}/purge", PurgeResponse, wait_s=LONG_TIMEOUT)

    # ------------------------------------------------------------------ roles

    async def list_roles(self) -> RolesResponse:
        """Every role, sorted by name."""
        return await self._get("/roles", RolesResponse)

    async def get_role(self, name: str) -> Role:
        """One role's queue list."""
        return await self._get(f"/roles/{name}", Role)

    async def create_role(self, role: Role) -> Role:
        """Create a role over existing queues."""
        return await self._send("POST", "/roles", Role, role)

    async def set_role(self, name: str, queues: Sequence[str]) -> Role:
        """Create or replace a role's queue list."""
        body = RoleUpdate(queues=list(queues))
        return await self._send("PUT", f"/roles/{name}", Role, body)

    async def delete_role(self, name: str) -> Message:
        """Delete a role."""
        return await self._send("DELETE", f"/roles/{name}", Message)

    # ------------------------------------------------------------------ dead-letter queue

    async def list_dlq(
        self,
        task_name: str | None = None,
        queue: str | None = None,
        task_version: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> TaskPage:
        """Dead-lettered tasks, newest first."""
        return await self._get(
            "/dead-letter-queue",
            TaskPage,
            task_name=task_name,
            queue=queue,
            task_version=task_version,
            limit=limit,
            cursor=cursor,
        )

    async def dlq_history(self, task_id: str) -> DLQHistoryResponse:
        """The full failure history of a dead-lettered task."""
        return await self._get(f"/dead-letter-queue/{task_id}/history", DLQHistoryResponse)

    async def resubmit_dlq(self, request: DLQResubmitRequest) -> DLQResubmitResponse:
        """Put dead-lettered tasks back on their queues, by ids or by filter."""
        return await self._send("POST", "/dead-letter-queue/resubmit", DLQResubmitResponse, request)

    async def delete_dlq(self, request: DLQDeleteRequest) -> DLQDeleteResponse:
        """Remove tasks from the DLQ without resubmitting them."""
        return await self._send("DELETE", "/dead-letter-queue", DLQDeleteResponse, request)

    # ------------------------------------------------------------------ workflows

    async def submit_workflow(self, request: WorkflowRequest) -> WorkflowSubmitted:
        """Submit a graph of tasks, all or nothing (idempotent on the workflow id)."""
        return await self._send("POST", "/submit-workflow", WorkflowSubmitted, request)

    async def get_workflow(self, workflow_id: str) -> Workflow:
        """A workflow's graph with each node's status and the overall status."""
        return await self._get(f"/workflows/{workflow_id}", Workflow)

    async def cancel_workflow(self, workflow_id: str) -> WorkflowCancelled:
        """Cancel every node of a workflow not yet terminal."""
        return await self._send("POST", f"/workflows/{workflow_id}/cancel", WorkflowCancelled)

    async def list_workflows(
        self, limit: int | None = None, cursor: str | None = None
    ) -> Page[WorkflowSummary]:
        """Workflows, newest first."""
        return await self._get("/workflows", Page[WorkflowSummary], limit=limit, cursor=cursor)


class SyncJobbersClient:
    """Blocking face for the CLI: ``run(client.api.method(...))`` with no event loop at all.

    ``api`` is a JobbersClient over a blocking transport (``httpx.HTTPTransport`` unless a
    test passes another ``httpx.BaseTransport``), so its coroutines never suspend and ``run``
    finishes them with a single ``send``. The CLI thus runs the same typed methods, parsing
    and error mapping as the TUI, without loading asyncio, anyio or async httpcore.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        blocking = transport or blocking_transport_for(resolve_url(url))
        self.api = JobbersClient(url, token, transport=_Blocking(blocking), timeout=timeout)

    def run(self, call: Coroutine[Any, Any, T]) -> T:
        """Run one client call to completion and return its result (or raise its error)."""
        try:
            call.send(None)
        except StopIteration as done:
            result: T = done.value
            return result
        call.close()
        raise RuntimeError("a blocking JobbersClient call tried to suspend")

    def close(self) -> None:
        """Close the connection pool."""
        self.run(self.api.aclose())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Blocking(httpx.AsyncBaseTransport):
    """An async transport that does its I/O by blocking, so awaiting it never suspends."""

    def __init__(self, transport: httpx.BaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = self._transport.handle_request(request)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_BlockingStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        self._transport.close()


class _BlockingStream(httpx.AsyncByteStream):
    """A blocking response body read through the async stream interface."""

    def __init__(self, stream: httpx.SyncByteStream | httpx.AsyncByteStream) -> None:
        assert isinstance(stream, httpx.SyncByteStream), "a blocking transport's body"
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        self._stream.close()


def _body(body: Any) -> Any:
    """JSON for a request body: models as the server reads them, unset fields left out."""
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", exclude_unset=True)
    return body


def _parse(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise _unexpected(response, exc) from None


def _unexpected(response: httpx.Response, exc: ValidationError) -> UnexpectedResponse:
    where = f"{response.request.method} {response.request.url.path}"
    return UnexpectedResponse(
        f"unexpected answer to {where} (is the manager the same jobbers version?): "
        f"{exc.error_count()} problems, first: {exc.errors()[0]['msg']}"
    )
