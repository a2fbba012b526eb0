"""The typed HTTP client of the manager API, shared by the CLI and the TUI.

``JobbersClient`` is async (the TUI awaits it); ``SyncJobbersClient`` runs the same client
over a blocking transport for the CLI, with no event loop. Every method returns the
pydantic models the server declares as ``response_model`` (``jobbers.schemas``), so both
sides agree by construction. Neither this module nor its callers import redis: the manager
is the only way in.

Errors are translated exactly once, here::

    ClientError                     anything this client raises on purpose
    ├── ManagerUnreachable(url)     no HTTP answer: refused, DNS, timeout, reset
    ├── UnexpectedResponse          a 2xx answer that is not the documented body
    └── ApiError(status, detail)    the manager answered with an error status
        ├── InvalidRequest          400, 422: the request was rejected as invalid
        ├── Unauthorized            401: missing or wrong JOBBERS_API_TOKEN
        ├── NotFound                404: no such task, queue or role
        ├── Conflict                409: the current state does not allow it
        ├── PayloadTooLarge         413: parameters or batch over the limit
        ├── ServiceUnavailable      503: the manager cannot reach Redis
        └── ServerError             any other 5xx
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Coroutine, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

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
    Task,
    TaskPage,
    TaskStatus,
    WorkersResponse,
)

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "JOBBERS_URL"
TOKEN_ENV = "JOBBERS_API_TOKEN"
DEFAULT_TIMEOUT = 10.0
LONG_TIMEOUT = 300.0  # purges and bulk operations on deep queues

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
]


class ClientError(Exception):
    """Base class of every error the client raises on purpose."""


class ManagerUnreachable(ClientError):
    """Raised when the manager gives no HTTP answer (refused, unknown host, timeout)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"cannot reach the jobbers manager at {url}: {reason} "
            f"(is it running? set --url or {URL_ENV})"
        )


class UnexpectedResponse(ClientError):
    """Raised when a success answer does not parse as the documented body (version skew)."""


class ApiError(ClientError):
    """Raised when the manager answers with an error status; ``detail`` is its message."""

    def __init__(self, status: int, detail: Any, method: str = "", path: str = "") -> None:
        self.status = status
        self.detail = detail
        self.method = method
        self.path = path
        super().__init__(format_detail(detail) or f"HTTP {status}")


class InvalidRequest(ApiError):
    """Raised on 400/422: the manager rejected the request's content."""


class Unauthorized(ApiError):
    """Raised on 401: the API token is missing or wrong."""


class NotFound(ApiError):
    """Raised on 404: the task, queue or role does not exist."""


class Conflict(ApiError):
    """Raised on 409: the current state does not allow the operation."""


class PayloadTooLarge(ApiError):
    """Raised on 413: the request body is over the manager's limit."""


class ServiceUnavailable(ApiError):
    """Raised on 503: the manager is up but cannot reach Redis."""


class ServerError(ApiError):
    """Raised on any other 5xx: a bug or crash on the manager's side."""


_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
    503: ServiceUnavailable,
}


def format_detail(detail: Any) -> str:
    """One readable line from a FastAPI ``detail`` (a string, or a list of validation errors)."""
    if isinstance(detail, list):
        parts = []
        for err in detail:
            if isinstance(err, dict):
                loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
                parts.append(f"{loc}: {err.get('msg', err)}" if loc else str(err.get("msg", err)))
            else:
                parts.append(str(err))
        return "; ".join(parts)
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {v}" for k, v in detail.items())
    return "" if detail is None else str(detail)


def error_for(response: httpx.Response) -> ApiError:
    """The typed exception for an error response, carrying the manager's own message."""
    try:
        body = response.json()
        detail = body.get("detail", body) if isinstance(body, dict) else body
    except ValueError:
        detail = response.text.strip()[:500] or response.reason_phrase
    status = response.status_code
    cls = _ERRORS_BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    return cls(status, detail, response.request.method, response.request.url.path)


def _params(**values: Any) -> dict[str, Any]:
    """Query parameters without the unset ones (the server's defaults apply)."""
    return {k: str(v) for k, v in values.items() if v is not None}


def resolve_url(url: str | None) -> str:
    """The manager URL: ``url``, else JOBBERS_URL, else the default; no trailing slash."""
    return (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")


# Building an SSL context loads the CA bundle (~50-100 ms), so only https URLs get one: plain
# HTTP never handshakes TLS, and redirects (which could lead to https) are not followed.
def _transport_for(url: str) -> httpx.AsyncBaseTransport:
    """An async connection pool for ``url``."""
    https = httpx.URL(url).scheme == "https"
    return httpx.AsyncHTTPTransport() if https else httpx.AsyncHTTPTransport(verify=False)


def _blocking_transport_for(url: str) -> httpx.BaseTransport:
    """A blocking connection pool for ``url``."""
    https = httpx.URL(url).scheme == "https"
    return httpx.HTTPTransport() if https else httpx.HTTPTransport(verify=False)


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
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=timeout,
            transport=transport or _transport_for(self.url),
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
        try:
            response = await self._http.request(method, path, json=json, params=params, **extra)
        except httpx.TimeoutException:
            raise ManagerUnreachable(self.url, "no answer in time") from None
        except httpx.TransportError as exc:
            raise ManagerUnreachable(self.url, _reason(exc)) from None
        if response.is_error:
            raise error_for(response)
        return response

    async def _get(self, path: str, model: type[M], **params: Any) -> M:
        return _parse(model, await self.request("GET", path, params=_params(**params)))

    async def _send(
        self, method: str, path: str, model: type[M], body: Any = None, wait_s: float | None = None
    ) -> M:
        return _parse(model, await self.request(method, path, json=_body(body), wait_s=wait_s))

    # ------------------------------------------------------------------ tasks

    async def submit_task(self, request: SubmitTaskRequest) -> SubmitTaskResponse:
        """Submit a task (idempotent on its id)."""
        return await self._send("POST", "/submit-task", SubmitTaskResponse, request)

    async def get_task(self, task_id: str) -> Task:
        """One task with its parameters, results and error history."""
        return await self._get(f"/task-status/{task_id}", Task)

    async def list_tasks(
        self,
        status: TaskStatus | str | None = None,
        queue: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> TaskPage:
        """A page of tasks filtered by status and/or queue."""
        return await self._get(
            "/task-list", TaskPage, status=status, queue=queue, limit=limit, cursor=cursor
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
        self, queue: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> ActiveTaskPage:
        """Running tasks, oldest start first, with elapsed time and heartbeat age."""
        return await self._get(
            "/active-tasks", ActiveTaskPage, queue=queue, limit=limit, cursor=cursor
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
        blocking = transport or _blocking_transport_for(resolve_url(url))
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


def _reason(exc: httpx.TransportError) -> str:
    """A short human reason from an httpx transport error and the OS errors behind it."""
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "unknown host"
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__
