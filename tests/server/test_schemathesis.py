"""Property-based API testing: schemathesis drives every operation of ``/openapi.json``.

No generated request, valid or not, may get a 500, and every response must match the
schema the document declares for it. The app runs on a real Redis, with a task, a queue and
a dead-lettered task in place so that some generated ids and names hit real data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.python import asgi

from jobbers.store.facade import StateManager

from .conftest import failure, make_app


async def _seed(redis_url: str) -> None:
    """A queue, a waiting task and a dead-lettered one, written through the core verbs."""
    from jobbers.models.queue import QueueConfig
    from jobbers.models.task import Task

    state = StateManager.from_url(redis_url)
    try:
        await state.ensure_defaults()
        await state.create_queue(QueueConfig(name="reports", max_concurrent=2))
        await state.submit(Task(name="add", parameters={"a": 1, "b": 2}))
        await state.submit(Task(name="boom"))
        await state.register_worker("w-fuzz", 60_000, {"role": "default", "queues": "[]"})
        claimed = await state.claim("w-fuzz", "default", 2, {"boom@1": (0, 1, -1)})
        for run in claimed.tasks:
            await state.fail(run.id, run.run_id, failure())
    finally:
        await state.close()


@pytest.fixture
def api_schema(clean_redis: str) -> Iterator[Any]:
    """The app's OpenAPI document, loaded over ASGI from an app on a seeded Redis."""
    asyncio.run(_seed(clean_redis))
    # The app opens its own StateManager inside schemathesis' event loop (via the lifespan).
    app: FastAPI = make_app(clean_redis)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    asgi.shutdown_lifespans()


# GET /events never ends a good answer (Server-Sent Events), which an in-process ASGI call
# waits for: tests/server/test_events.py covers it on a real server, bad input included.
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/events")


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_responses_match_the_schema(case: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
