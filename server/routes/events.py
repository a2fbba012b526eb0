"""``GET /events``: the task event stream as Server-Sent Events, filtered and resumable.

Each SSE event is one status change (``jobbers.models.event.TaskEvent`` as JSON on its
``data:`` line) with the stream entry id as its ``id:``: a client that reconnects with
``Last-Event-ID`` gets every matching change after it that the capped stream still holds.
A comment line every ``KEEPALIVE_S`` seconds keeps proxies from closing an idle stream and
lets a client tell a quiet stream from a dead one. When Redis goes away the stream ends
(the client reconnects and resumes); a request made while it is away answers 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Header, HTTPException, Query
from pydantic import BeforeValidator
from sse_starlette import EventSourceResponse, ServerSentEvent

from jobbers.api.schemas import TaskId
from jobbers.errors import StoreUnavailable
from jobbers.models.event import EVENT_ID_PATTERN, EventFilter
from jobbers.store.scripts import EVENTS_MAXLEN_ENV

from ..deps import (
    NameFilter,
    QueueFilter,
    RuntimeDep,
    StateDep,
    StatusFilter,
    blank_is_none,
    resource_router,
)
from ..runtime import MAX_STREAMS, Runtime

# How long one read waits in Redis for a new entry: under the manager's socket timeout.
BLOCK_MS = 1000
KEEPALIVE_S = 5.0

router = resource_router("events")

TaskIdFilter = Annotated[
    TaskId | None, BeforeValidator(blank_is_none), Query(description="only this task's events")
]
LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        pattern=EVENT_ID_PATTERN,
        description="resume after this event id (what a browser's EventSource sends itself)",
    ),
]


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "one event per change"},
        404: {"description": f"the event stream is off ({EVENTS_MAXLEN_ENV}=0)"},
    },
)
async def events(
    state: StateDep,
    runtime: RuntimeDep,
    queue: QueueFilter = None,
    task_id: TaskIdFilter = None,
    name: NameFilter = None,
    status: StatusFilter = None,
    last_event_id: LastEventId = None,
) -> EventSourceResponse:
    """Follow task status changes; ``status`` filters on the status entered."""
    if not state.events_enabled:
        raise HTTPException(404, f"the event stream is off on this manager ({EVENTS_MAXLEN_ENV}=0)")
    if runtime.open_streams >= MAX_STREAMS:
        raise HTTPException(
            503,
            f"this manager already serves {MAX_STREAMS} event streams; retry later",
            headers={"Retry-After": str(runtime.settings.retry_after_s)},
        )
    # Where to start is fixed before the answer starts: a client that has the response
    # headers misses nothing that happens after (what --wait relies on).
    start = last_event_id or await state.last_event_id()
    wanted = EventFilter(queue=queue, task_id=task_id, name=name, status=status)
    return EventSourceResponse(
        _follow(runtime, start, wanted), ping=KEEPALIVE_S, headers={"Cache-Control": "no-store"}
    )


async def _follow(
    runtime: Runtime, after: str, wanted: EventFilter
) -> AsyncIterator[ServerSentEvent]:
    """The matching events after ``after``, until Redis goes away or the client does."""
    runtime.open_streams += 1
    try:
        reader = runtime.stream_reader()
        while True:
            try:
                after, batch = await reader.read_events(after, BLOCK_MS)
            except StoreUnavailable:
                return  # the client reconnects with Last-Event-ID once Redis is back
            for event in batch:
                if wanted.matches(event):
                    yield ServerSentEvent(data=event.model_dump_json(), id=event.event_id)
    finally:
        runtime.open_streams -= 1
