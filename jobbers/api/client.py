"""The typed HTTP client of the manager API, shared by the CLI and the TUI.

``JobbersClient`` is async (the TUI awaits it); ``SyncJobbersClient`` runs the same client
over a blocking transport for the CLI, with no event loop. Every method returns the
pydantic models the server declares as ``response_model`` (``jobbers.api.schemas``), so both
sides agree by construction. Neither this module nor its callers import redis: the manager
is the only way in.

Where the manager is, the token, the transports and the error tree (``ClientError`` and its
subclasses, re-exported here) live in ``jobbers.api.transport``, which has no models.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from jobbers import hooks
from jobbers.api.schemas import (
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
    QueueStrategy,
    QueueUpdate,
    RetryRequest,
    Role,
    RolesResponse,
    RoleUpdate,
    Schedule,
    ScheduledTaskPage,
    SchedulesResponse,
    ScheduleUpdate,
    ScheduleView,
    Stats,
    SubmitTaskRequest,
    SubmitTaskResponse,
    SubmitTasksRequest,
    SubmitTasksResponse,
    Task,
    TaskEvent,
    TaskPage,
    TaskStatus,
    TriggerResponse,
    WorkersResponse,
)
from jobbers.api.transport import (
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
    error_for,
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

M = TypeVar("M", bound=BaseModel)
# Longest silence on the event stream before it counts as broken: three keep-alives.
EVENTS_READ_TIMEOUT = 15.0
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


def _trace_headers(request: SubmitTaskRequest) -> dict[str, str]:
    """The W3C trace headers the ``on_submit`` hooks give for ``request`` (often none)."""
    task_id = str(request.id) if request.id is not None else ""
    found = hooks.submit_headers(
        task_id, request.name, request.version, request.queue, request.parameters
    )
    return {k: v for k, v in found.items() if k in ("traceparent", "tracestate")}


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
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; transport errors and error statuses become ClientErrors.

        ``wait_s`` overrides the client's timeout for this call (long operations).
        """
        extra: dict[str, Any] = {} if wait_s is None else {"timeout": wait_s}
        if headers:
            extra["headers"] = headers
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
        """Submit a task (idempotent on its id).

        The trace context that this process's ``on_submit`` hooks give (``jobbers.hooks``,
        e.g. ``OtelHook``) travels as the ``traceparent`` and ``tracestate`` headers.
        """
        headers = _trace_headers(request) if hooks.any_registered() else None
        response = await self.request("POST", "/submit-task", json=_body(request), headers=headers)
        return _parse(SubmitTaskResponse, response)

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
        """Tasks waiting for a retry or their run time, soonest due first, with time to due."""
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

    # ------------------------------------------------------------------ events

    async def events(
        self,
        *,
        queue: str | None = None,
        task_id: str | None = None,
        name: str | None = None,
        status: TaskStatus | None = None,
        last_event_id: str | None = None,
    ) -> AsyncGenerator[TaskEvent]:
        """Follow task status changes (``GET /events``) as they happen, oldest first.

        Filters as the endpoint's; ``last_event_id`` resumes after an event already seen
        (its ``event_id``). Ends when the manager ends the stream (Redis went away): call
        again with the last ``event_id`` to resume. NotFound when the manager has no stream.
        """
        stream = self.event_stream(
            queue=queue, task_id=task_id, name=name, status=status, last_event_id=last_event_id
        )
        async for event in stream:
            if event is not None:
                yield event

    async def event_stream(
        self,
        *,
        queue: str | None = None,
        task_id: str | None = None,
        name: str | None = None,
        status: TaskStatus | None = None,
        last_event_id: str | None = None,
        read_timeout: float = EVENTS_READ_TIMEOUT,
    ) -> AsyncGenerator[TaskEvent | None]:
        """``events`` with a None first once the stream is open, and one per keep-alive.

        Why: a caller that must not miss a change (``--wait``) reads the task only once
        the stream is open, and a caller with a deadline gets control back at least at
        every keep-alive. ``read_timeout``: longest silence before ManagerUnreachable.
        """
        params = query_params(queue=queue, task_id=task_id, name=name, status=status)
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        timeout = httpx.Timeout(self._http.timeout.connect, read=read_timeout)
        with reaching(self.url):
            request = self._http.build_request(
                "GET", "/events", params=params, headers=headers, timeout=timeout
            )
            response = await self._http.send(request, stream=True)
            try:
                if response.is_error:
                    await response.aread()
                    raise error_for(response)
                yield None
                async for event in _server_sent_events(response.aiter_lines()):
                    yield event
            finally:
                await response.aclose()

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

    async def set_role(
        self,
        name: str,
        queues: Sequence[str],
        strategy: QueueStrategy = QueueStrategy.ROUND_ROBIN,
        weights: Mapping[str, int] | None = None,
    ) -> Role:
        """Create or replace a role's queue list (and how its workers share them)."""
        body = RoleUpdate(queues=list(queues), strategy=strategy, weights=dict(weights or {}))
        return await self._send("PUT", f"/roles/{name}", Role, body)

    async def delete_role(self, name: str) -> Message:
        """Delete a role."""
        return await self._send("DELETE", f"/roles/{name}", Message)

    # ------------------------------------------------------------------ schedules (issue 15 §2)

    async def list_schedules(self) -> SchedulesResponse:
        """Every schedule with its next and last fire, sorted by name."""
        return await self._get("/schedules", SchedulesResponse)

    async def get_schedule(self, name: str) -> ScheduleView:
        """One schedule."""
        return await self._get(f"/schedules/{name}", ScheduleView)

    async def create_schedule(self, schedule: Schedule) -> ScheduleView:
        """Create a schedule (Conflict if the name is taken)."""
        return await self._send("POST", "/schedules", ScheduleView, schedule)

    async def put_schedule(self, name: str, update: ScheduleUpdate) -> ScheduleView:
        """Create or replace a schedule's definition."""
        return await self._send("PUT", f"/schedules/{name}", ScheduleView, update)

    async def delete_schedule(self, name: str) -> Message:
        """Delete a schedule (the tasks it fired stay)."""
        return await self._send("DELETE", f"/schedules/{name}", Message)

    async def pause_schedule(self, name: str) -> ScheduleView:
        """Stop a schedule firing."""
        return await self._send("POST", f"/schedules/{name}/pause", ScheduleView)

    async def resume_schedule(self, name: str) -> ScheduleView:
        """Fire again from the next tick after now."""
        return await self._send("POST", f"/schedules/{name}/resume", ScheduleView)

    async def trigger_schedule(self, name: str) -> TriggerResponse:
        """Submit the schedule's task once now."""
        return await self._send("POST", f"/schedules/{name}/trigger", TriggerResponse)

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

    def iterate(self, stream: AsyncGenerator[T]) -> Iterator[T]:
        """The items of one of the client's async generators (``events``), blocking on each."""
        try:
            while True:
                try:
                    yield self.run(stream.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self.run(stream.aclose())

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


async def _server_sent_events(lines: AsyncIterator[str]) -> AsyncIterator[TaskEvent | None]:
    """Parse an SSE body: a TaskEvent per event, None per comment (the keep-alive).

    Only what ``GET /events`` sends: ``id:`` and ``data:`` fields and ``:`` comments; an
    event whose data is not a TaskEvent raises UnexpectedResponse.
    """
    data: list[str] = []
    async for line in lines:
        if line.startswith(":"):
            yield None
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            try:
                yield TaskEvent.model_validate_json("\n".join(data))
            except ValidationError as exc:
                raise UnexpectedResponse(
                    f"unexpected event from GET /events (is the manager the same jobbers "
                    f"version?): {exc.errors()[0]['msg']}"
                ) from None
            data = []


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
