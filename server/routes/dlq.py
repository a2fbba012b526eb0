"""The dead-letter queue: browse, history, resubmit and remove, by ids or by filter."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import Query
from pydantic import BeforeValidator

from jobbers.api.schemas import (
    MAX_BULK,
    DLQDeleteRequest,
    DLQDeleteResponse,
    DLQHistoryResponse,
    DLQResubmitRequest,
    DLQResubmitResponse,
    TaskPage,
    canonical_ulid,
)
from jobbers.store.facade import MAX_PAGE, InvalidInput, StateManager

from ..deps import (
    Cursor,
    Limit,
    NameText,
    QueueFilter,
    StateDep,
    TaskIdPath,
    blank_is_none,
    per_id,
    resource_router,
)
from ..errors import located, responses

router = resource_router("dead-letter queue", "/dead-letter-queue")

TaskNameFilter = Annotated[
    NameText | None, BeforeValidator(blank_is_none), Query(description="only tasks of this name")
]
VersionFilter = Annotated[int | None, Query(ge=0, description="only this task version")]


@router.get("")
async def list_dead_letters(
    state: StateDep,
    task_name: TaskNameFilter = None,
    queue: QueueFilter = None,
    task_version: VersionFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TaskPage:
    """Dead-lettered tasks, newest first, filtered by name, queue and version.

    Rows leave out parameters, results and error history (``/{task_id}/history`` and
    ``GET /task-status/{id}`` have them).
    """
    return await state.list_dlq(task_name, queue, task_version, limit, cursor)


@router.get("/{task_id}/history", responses=responses(404))
async def dead_letter_history(task_id: TaskIdPath, state: StateDep) -> DLQHistoryResponse:
    """The full failure history of a dead-lettered task (404 when it is not in the DLQ)."""
    history = await state.dlq_history(task_id)
    return DLQHistoryResponse(task_id=task_id, task=await state.get_task(task_id), history=history)


@router.post("/resubmit", responses=responses(413))
async def resubmit_dead_letters(body: DLQResubmitRequest, state: StateDep) -> DLQResubmitResponse:
    """Put dead-lettered tasks back on their queues: the given ids, or up to ``limit`` matches."""

    def resubmit(ids: list[str]) -> Awaitable[dict[str, str]]:
        return state.resubmit_dlq(
            ids, body.reset_retry_count, body.parameters, body.replace_parameters
        )

    if body.task_ids is not None:
        _no_filter_with_ids(body.task_name, body.queue, body.task_version)
        results = await per_id(body.task_ids, resubmit)
    else:
        ids = await _matching_ids(state, body.task_name, body.queue, body.task_version, body.limit)
        results = await resubmit(ids)
    done = sum(1 for outcome in results.values() if outcome == "resubmitted")
    return DLQResubmitResponse(results=results, resubmitted=done)


@router.delete("", responses=responses(413))
async def remove_dead_letters(body: DLQDeleteRequest, state: StateDep) -> DLQDeleteResponse:
    """Take tasks out of the DLQ without resubmitting: the given ids, or up to ``limit`` matches."""
    if body.task_ids is not None:
        _no_filter_with_ids(body.task_name, body.queue, body.task_version)
        ids: list[str] = []
        for raw in body.task_ids:
            try:
                tid = canonical_ulid(raw)
            except ValueError:
                continue  # not a ULID, so not in the DLQ: nothing to remove
            if tid not in ids:
                ids.append(tid)
    else:
        ids = await _matching_ids(state, body.task_name, body.queue, body.task_version, body.limit)
    removed = await state.remove_from_dlq(ids) if ids else 0
    return DLQDeleteResponse(removed=removed, task_ids=ids)


def _no_filter_with_ids(name: str | None, queue: str | None, version: int | None) -> None:
    """Ids and a filter together are ambiguous (intersection or union?), so refuse them."""
    if name is not None or queue is not None or version is not None:
        raise located(
            InvalidInput("give task_ids or a filter (task_name, queue, task_version), not both"),
            "body",
            "task_ids",
        )


async def _matching_ids(
    state: StateManager, name: str | None, queue: str | None, version: int | None, limit: int
) -> list[str]:
    """Up to ``limit`` ids of dead-lettered tasks matching the filter, newest first."""
    ids: list[str] = []
    cursor: str | None = None
    while len(ids) < min(limit, MAX_BULK):
        page = await state.list_dlq(name, queue, version, min(limit - len(ids), MAX_PAGE), cursor)
        ids.extend(str(task.id) for task in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return ids[:limit]
