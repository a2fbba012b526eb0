"""The Sentry and OpenTelemetry integrations against a real worker, Redis and manager app.

Sentry: a real ``sentry_sdk`` client whose transport keeps the envelopes in memory.
OpenTelemetry: the SDK's ``InMemorySpanExporter`` behind a tracer provider of the test's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sentry_sdk
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from jobbers import hooks
from jobbers.integrations.otel import OtelHook
from jobbers.integrations.sentry import SentryHook
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status
from tests.server.conftest import client_for, make_app

StartWorker = Callable[..., Any]
# The in-memory exporter of the spans the test's OtelHook ends, and its tracer provider.
Spans = tuple[InMemorySpanExporter, TracerProvider]


class MemoryTransport(Transport):
    """Keeps every event the client sends."""

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type == "event" and item.payload.json is not None:
                self.events.append(item.payload.json)


@pytest.fixture
def sentry_events() -> Iterator[list[dict[str, Any]]]:
    transport = MemoryTransport()
    sentry_sdk.init(
        dsn="https://public@sentry.invalid/1",
        transport=transport,
        default_integrations=False,
        auto_enabling_integrations=False,
    )
    hook = SentryHook()
    hooks.add(hook)
    yield transport.events
    hooks.remove(hook)
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: a disabled client for the tests after this one


async def test_sentry_reports_failed_runs_with_task_name_id_and_attempt(
    state: StateManager, start_worker: StartWorker, sentry_events: list[dict[str, Any]]
) -> None:
    await start_worker()
    flaky = await state.submit_task(Task(name="flaky"))
    ok = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 2}))
    await wait_status(state, ok.id, TaskStatus.COMPLETED)
    await wait_status(state, flaky.id, TaskStatus.FAILED, within=20)
    [event] = await eventually(lambda: list(sentry_events), what="the Sentry event")
    assert event["tags"]["jobbers.task"] == "flaky"
    assert event["tags"]["jobbers.task_id"] == str(flaky.id)
    assert event["tags"]["jobbers.attempt"] == "4"  # max_retries=3: the fourth run fails
    assert event["tags"]["jobbers.outcome"] == "failed"
    assert event["contexts"]["jobbers"]["name"] == "flaky"
    [exc] = event["exception"]["values"]
    assert exc["type"] == "Flaky"


@pytest.fixture
def spans() -> Iterator[Spans]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    hook = OtelHook(tracer_provider=provider)
    hooks.add(hook)
    yield exporter, provider
    hooks.remove(hook)
    provider.shutdown()


def _named(exporter: InMemorySpanExporter, prefix: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith(prefix)]


async def test_one_trace_from_request_through_submit_to_run(
    state: StateManager,
    start_worker: StartWorker,
    spans: Spans,
) -> None:
    exporter, provider = spans
    tracer = provider.get_tracer("web")
    with tracer.start_as_current_span("GET /orders"):
        task = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 2}))
    await start_worker()
    await wait_status(state, task.id, TaskStatus.COMPLETED)
    [run] = await eventually(lambda: _named(exporter, "jobbers.run"), what="the run span")
    [submit] = _named(exporter, "jobbers.submit")
    [web] = _named(exporter, "GET /orders")
    assert run.name == "jobbers.run add" and run.kind is trace.SpanKind.CONSUMER
    assert web.context is not None and submit.context is not None and run.context is not None
    assert submit.parent is not None and submit.parent.span_id == web.context.span_id
    assert run.parent is not None and run.parent.span_id == submit.context.span_id
    assert run.context.trace_id == web.context.trace_id
    assert run.attributes is not None
    assert run.attributes["messaging.message.id"] == str(task.id)
    assert run.attributes["jobbers.outcome"] == "completed"


async def test_failed_run_span_records_the_error(
    state: StateManager,
    start_worker: StartWorker,
    spans: Spans,
) -> None:
    exporter, _ = spans
    await start_worker()
    task = await state.submit_task(Task(name="boom"))
    await wait_status(state, task.id, TaskStatus.FAILED)
    [run] = await eventually(lambda: _named(exporter, "jobbers.run"), what="the run span")
    assert run.status.status_code is trace.StatusCode.ERROR
    assert [e.name for e in run.events] == ["exception"]


async def test_http_traceparent_joins_the_run_to_the_callers_trace(
    state: StateManager,
    clean_redis: str,
    start_worker: StartWorker,
    spans: Spans,
) -> None:
    exporter, provider = spans
    hooks.remove(next(h for h in hooks.registered() if isinstance(h, OtelHook)))
    # The manager holds no hook: the header alone carries the context.
    app = make_app(clean_redis, state)
    carrier: dict[str, str] = {}
    with provider.get_tracer("web").start_as_current_span("POST /checkout") as caller:
        propagate.inject(carrier)
    body = {"name": "add", "parameters": {"a": 2, "b": 2}}
    async with client_for(app) as client:
        response = await client.post("/submit-task", json=body, headers=carrier)
        bad = await client.post(
            "/submit-task",
            json=body | {"parameters": {"a": 0, "b": 0}},
            headers={"traceparent": "00-not-a-trace"},
        )
    assert response.status_code == 201 and bad.status_code == 201
    task_id = response.json()["task"]["id"]
    assert await state.task_headers(task_id) == {"traceparent": carrier["traceparent"]}
    assert await state.task_headers(bad.json()["task"]["id"]) == {}  # ignored, not stored
    worker_hook = OtelHook(tracer_provider=provider)
    hooks.add(worker_hook)
    try:
        await start_worker()
        await wait_status(state, task_id, TaskStatus.COMPLETED)
        await wait_status(state, bad.json()["task"]["id"], TaskStatus.COMPLETED)
    finally:
        hooks.remove(worker_hook)

    def runs() -> list[ReadableSpan]:
        found = _named(exporter, "jobbers.run")
        return found if len(found) == 2 else []

    by_id = {
        s.attributes["messaging.message.id"]: s
        for s in await eventually(runs, what="both run spans")
        if s.attributes is not None
    }
    run = by_id[task_id]
    assert run.parent is not None and run.parent.span_id == caller.get_span_context().span_id
    assert run.context is not None
    assert run.context.trace_id == caller.get_span_context().trace_id
    assert by_id[bad.json()["task"]["id"]].parent is None  # a trace of its own


async def test_jobbers_client_carries_the_submit_span_over_http(
    state: StateManager,
    clean_redis: str,
    start_worker: StartWorker,
    spans: Spans,
) -> None:
    import httpx

    from jobbers.api.client import JobbersClient
    from jobbers.api.schemas import SubmitTaskRequest

    exporter, provider = spans
    sent: list[httpx.Request] = []

    class Recording(httpx.AsyncBaseTransport):
        """The manager app in-process, keeping each request the client sent."""

        asgi = httpx.ASGITransport(app=make_app(clean_redis, state))

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return await self.asgi.handle_async_request(request)

    async with JobbersClient("http://127.0.0.1:8000", transport=Recording()) as client:
        with provider.get_tracer("web").start_as_current_span("POST /signup") as web:
            answer = await client.submit_task(
                SubmitTaskRequest(name="add", parameters={"a": 3, "b": 4})
            )
    await start_worker()
    await wait_status(state, str(answer.task.id), TaskStatus.COMPLETED)
    [run] = await eventually(lambda: _named(exporter, "jobbers.run"), what="the run span")
    # The run's parent is a submit span under the request's. (In one process the in-process
    # manager's hook makes a second submit span under it too; the client's header wins.)
    submits = [
        s
        for s in _named(exporter, "jobbers.submit")
        if s.parent is not None and s.parent.span_id == web.get_span_context().span_id
    ]
    first = min(submits, key=lambda s: s.start_time or 0)  # the client's, made first
    assert first.context is not None and run.context is not None
    [request] = sent
    assert request.headers["traceparent"].startswith(
        f"00-{first.context.trace_id:032x}-{first.context.span_id:016x}-"
    )
    assert run.parent is not None and run.parent.span_id == first.context.span_id
    assert run.context.trace_id == web.get_span_context().trace_id
