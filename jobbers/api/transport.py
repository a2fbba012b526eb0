"""The manager API over httpx, without models: where it is, who asks, and what went wrong.

The typed ``JobbersClient`` (``jobbers.api.client``, which adds the pydantic models) stands
on this module: the URL, the token, the transports and the error translation live here.

Errors are translated exactly once, here::

    ClientError                     anything a client raises on purpose
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

import contextlib
import os
import socket
from collections.abc import Iterator
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "JOBBERS_URL"
TOKEN_ENV = "JOBBERS_API_TOKEN"
DEFAULT_TIMEOUT = 10.0
LONG_TIMEOUT = 300.0  # purges and bulk operations on deep queues


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


def checked(response: httpx.Response) -> httpx.Response:
    """The response itself if it is a success; its ApiError otherwise."""
    if response.is_error:
        raise error_for(response)
    return response


@contextlib.contextmanager
def reaching(url: str) -> Iterator[None]:
    """Turn httpx's transport errors inside the block into ManagerUnreachable for ``url``."""
    try:
        yield
    except httpx.TimeoutException:
        raise ManagerUnreachable(url, "no answer in time") from None
    except httpx.TransportError as exc:
        raise ManagerUnreachable(url, _reason(exc)) from None


def resolve_url(url: str | None) -> str:
    """The manager URL: ``url``, else JOBBERS_URL, else the default; no trailing slash.

    Read here with ``os.environ``, not through a settings model (``jobbers.store.settings``):
    the CLI's start-up time matters more than one model for two client variables.
    """
    return (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")


def client_settings(url: str, token: str | None, timeout: float) -> dict[str, Any]:
    """What every httpx client of the manager is built with: base URL, token, timeout.

    ``token`` None means JOBBERS_API_TOKEN (an empty one sends no Authorization header),
    read with ``os.environ`` as in ``resolve_url``: the CLI's start-up time comes first.
    """
    token = token if token is not None else os.environ.get(TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return {"base_url": url, "headers": headers, "timeout": timeout}


def query_params(**values: Any) -> dict[str, Any]:
    """Query parameters without the unset ones (the server's defaults apply)."""
    return {k: str(v) for k, v in values.items() if v is not None}


# Building an SSL context loads the CA bundle (~50-100 ms), so only https URLs get one: plain
# HTTP never handshakes TLS, and redirects (which could lead to https) are not followed.
def transport_for(url: str) -> httpx.AsyncBaseTransport:
    """An async connection pool for ``url``."""
    https = httpx.URL(url).scheme == "https"
    return httpx.AsyncHTTPTransport() if https else httpx.AsyncHTTPTransport(verify=False)


def blocking_transport_for(url: str) -> httpx.BaseTransport:
    """A blocking connection pool for ``url``."""
    https = httpx.URL(url).scheme == "https"
    return httpx.HTTPTransport() if https else httpx.HTTPTransport(verify=False)


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
