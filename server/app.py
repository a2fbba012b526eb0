"""The app factory: settings, one StateManager, error handlers, the body limit and routers."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic.warnings import UnsupportedFieldAttributeWarning

import jobbers
from jobbers.errors import TaskDefinitionError
from jobbers.registry import load_tasks_module
from jobbers.store.facade import StateManager

from .body_limit import BodyLimitMiddleware
from .errors import install_error_handlers
from .fast_submit import FastSubmitMiddleware
from .local_only import LocalOnlyMiddleware
from .routes import (
    dashboard,
    dlq,
    docs,
    events,
    health,
    queues,
    roles,
    schedules,
    tasks,
    workflows,
)
from .runtime import Runtime
from .settings import ServerSettings

# The API models build at first use (``jobbers.models.base``), and so do FastAPI's adapters
# for request bodies: outside the block where FastAPI silences pydantic's warning about the
# alias that FastAPI itself puts on each body parameter (its name; a false positive, the body
# is read as before). Silenced here for that alias only, as FastAPI does.
warnings.filterwarnings(
    "ignore", message="The 'alias' attribute", category=UnsupportedFieldAttributeWarning
)

DESCRIPTION = """The jobbers manager: submit, inspect and cancel tasks; manage queues, roles
and the dead-letter queue; watch running tasks, workers and stats.

Errors are JSON: `{"detail": "..."}`, or FastAPI's list of `{loc, msg, type}` for 422.
With `JOBBERS_API_TOKEN` set, every endpoint but `/health` needs
`Authorization: Bearer <token>`. Without one, only requests addressed to a loopback name
(`localhost`, `127.0.0.1`, `[::1]`, or `JOBBERS_ALLOWED_HOSTS`) are answered, and a
state-changing request whose `Origin` is another site's gets 403. While Redis is
unreachable every endpoint answers 503 with `Retry-After`, and recovers on its own when
Redis is back."""


def create_app(
    settings: ServerSettings | None = None, state: StateManager | None = None
) -> FastAPI:
    """Build the manager app; it uses ``state`` when given, else opens one on ``redis_url``."""
    settings = settings or ServerSettings.from_env()
    if settings.tasks_module:
        load_tasks(settings.tasks_module)
    runtime = Runtime(settings, state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.ensure_defaults()
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="jobbers manager",
        version=jobbers.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by routes/docs.py instead, so the token guards them too.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_error_handlers(app, settings.retry_after_s)
    routers = (tasks, queues, roles, schedules, workflows, dlq, dashboard, events, health, docs)
    for module in routers:
        app.include_router(module.router)
    # Innermost of the app's own: the body limit and the cross-site check still come first.
    app.add_middleware(
        FastSubmitMiddleware, runtime=runtime, exception_handlers=app.exception_handlers
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.api_token is None:
        # Outermost: a refused request costs nothing else.
        app.add_middleware(LocalOnlyMiddleware, allowed_hosts=settings.allowed_hosts)
    return app


def load_tasks(module: str) -> None:
    """Import the tasks module so submissions are checked against its registry."""
    try:
        load_tasks_module(module)
    except TaskDefinitionError:
        raise
    except Exception as exc:
        # A syntax error or a failing import inside the user's module: one clear line.
        raise TaskDefinitionError(
            f"cannot load tasks module {module!r}: {type(exc).__name__}: {exc}"
        ) from exc
