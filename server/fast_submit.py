"""A short way for the common ``POST /submit-task``: the same route, less framework.

FastAPI's per-request machinery (dependency solving with its security scheme, query
parsing, the exception and exit-stack wrappers, response re-validation) cost the single
submit more CPU than the submit itself. This middleware, innermost of the app's own (so
the cross-site check and the body limit still apply first), serves a submit that is
plainly well-formed by calling the very route function (``routes.tasks.submit_task``) with
the very dependencies FastAPI would give it:

- the same token check (only an exact ``Bearer <token>`` is taken here);
- no trace context (a ``traceparent`` or ``tracestate`` header goes the full way);
- the body parsed as FastAPI parses it (``json.loads``, then the route's own body model);
- the runtime and the StateManager of ``deps.get_state`` (defaults ensured);
- the answer serialised as FastAPI serialises the route's return type, with the status the
  route sets (201, or 200 for an idempotent repeat);
- an error raised by the route answered by the app's own exception handlers.

Anything else (an app with ``dependency_overrides``, another content type, an empty or
malformed body, a body the model refuses, a missing or differently written token) is
handed to the full app with its body replayed, so every error keeps FastAPI's exact
answer. If the route's signature is ever not the one this module knows, the short way
stays off and FastAPI serves every submit.
"""

from __future__ import annotations

import inspect
import json
import secrets
import typing
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .deps import get_state
from .routes import tasks
from .runtime import Runtime

PATH = "/submit-task"
_ROUTE_PARAMETERS = ("body", "response", "state", "runtime", "traceparent", "tracestate")
_JSON = (b"application/json",)
_NO_ANSWER = object()


class FastSubmitMiddleware:
    """Serves a well-formed ``POST /submit-task`` through the route function (see module)."""

    def __init__(
        self,
        app: ASGIApp,
        runtime: Runtime,
        exception_handlers: Mapping[Any, Callable[..., Any]],
    ) -> None:
        self.app = app
        self.runtime = runtime
        route = _route_shape()
        self.enabled = route is not None
        if route is None:
            return
        self.endpoint, self.body_model, self.status_code, answer_type = route
        self.answer = TypeAdapter(answer_type)
        # The app's handlers as its ExceptionMiddleware holds them (500/Exception go to the
        # outermost ServerErrorMiddleware, which a re-raised error still reaches).
        self.handlers = {k: v for k, v in exception_handlers.items() if k not in (500, Exception)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Take a submit when it is plainly well-formed; pass everything else on untouched."""
        if (
            not self.enabled
            or scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
        ):
            await self.app(scope, receive, send)
            return
        if getattr(scope.get("app"), "dependency_overrides", None) or not self._headers_fit(scope):
            await self.app(scope, receive, send)
            return
        body, last = await _read_body(receive)
        parsed = self._parse(body) if last is None else None
        if parsed is None:
            await self.app(scope, _replay(body, last, receive), send)
            return
        try:
            answer = await self._serve(parsed)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            handled = handler(Request(scope), exc)
            answer = await handled if inspect.isawaitable(handled) else handled
        await answer(scope, _replay(body, None, receive), send)

    def _headers_fit(self, scope: Scope) -> bool:
        """JSON content (or none declared, which FastAPI also reads as JSON) and the token."""
        content_type: bytes | None = None
        authorization: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"authorization":
                authorization = value
            elif name in (b"traceparent", b"tracestate"):
                return False  # a caller's trace context: FastAPI reads and checks it
        if content_type is not None and content_type.lower() not in _JSON:
            return False
        token = self.runtime.settings.api_token
        if token is None:
            return True
        expected = b"Bearer " + token.get_secret_value().encode()
        return authorization is not None and secrets.compare_digest(authorization, expected)

    def _parse(self, body: bytes) -> BaseModel | None:
        """The route's body model from the bytes, as FastAPI builds it; None if it would 422."""
        if not body:
            return None
        try:
            return self.body_model.model_validate(json.loads(body))
        except (ValueError, ValidationError, RecursionError):
            return None

    def _handler(self, exc: Exception) -> Callable[..., Any] | None:
        """The app's handler of ``exc``, looked up as Starlette's ExceptionMiddleware does."""
        if isinstance(exc, HTTPException) and exc.status_code in self.handlers:
            return self.handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in self.handlers:
                return self.handlers[cls]
        return None

    async def _serve(self, body: BaseModel) -> Response:
        """Call the route with its dependencies; the answer FastAPI would send."""
        state = await get_state(self.runtime)
        sub_response = Response()
        del sub_response.headers["content-length"]
        sub_response.status_code = None  # type: ignore[assignment]  # "not set", as FastAPI
        result = await self.endpoint(
            body=body,
            response=sub_response,
            state=state,
            runtime=self.runtime,
            traceparent=None,
            tracestate=None,
        )
        answer = Response(
            self.answer.dump_json(result, by_alias=True),
            status_code=sub_response.status_code or self.status_code,
            media_type="application/json",
        )
        answer.raw_headers.extend(sub_response.raw_headers)
        return answer


def _route_shape() -> tuple[Callable[..., Awaitable[Any]], type[BaseModel], int, Any] | None:
    """The submit route's function, body model, status and return type, if it is as known."""
    for route in tasks.router.routes:
        if getattr(route, "path", None) == PATH and "POST" in getattr(route, "methods", ()):
            endpoint = route.endpoint  # type: ignore[attr-defined]
            status_code = route.status_code  # type: ignore[attr-defined]
            break
    else:
        return None
    if tuple(inspect.signature(endpoint).parameters) != _ROUTE_PARAMETERS:
        return None
    hints = typing.get_type_hints(endpoint, include_extras=False)
    body_model = hints.get("body")
    if not (isinstance(body_model, type) and issubclass(body_model, BaseModel)):
        return None
    if not isinstance(status_code, int):
        return None
    return endpoint, body_model, status_code, hints["return"]


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The body read so far, and the message that cut it short (None: it is complete).

    The body limit's receive counts the bytes on the way, as it does for the app.
    """
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message  # a disconnect before the body was complete
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, last: Message | None, receive: Receive) -> Receive:
    """A receive that hands over what was already read, then defers to the real one."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": last is not None}]
    if last is not None:
        pending.append(last)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
