"""Queues: CRUD, and pause, resume and purge."""

from __future__ import annotations

from fastapi import Response

from jobbers.api.schemas import Message, PurgeResponse, QueuesResponse, QueueUpdate
from jobbers.models.queue import QueueConfig

from ..deps import QueueName, StateDep, put_answer, resource_router
from ..errors import check_body_name, responses, responses_with

router = resource_router("queues", "/queues")


@router.get("")
async def list_queues(state: StateDep) -> QueuesResponse:
    """Every queue with its limits and paused flag, sorted by name."""
    return QueuesResponse(queues=await state.list_queues())


@router.post("", status_code=201, responses=responses(409, 413))
async def create_queue(config: QueueConfig, state: StateDep) -> QueueConfig:
    """Create a queue; 409 if the name is taken (PUT creates or replaces)."""
    return await state.create_queue(config)


@router.get("/{name}/config", responses=responses(404))
async def get_queue_config(name: QueueName, state: StateDep) -> QueueConfig:
    """One queue's limits and paused flag."""
    return await state.get_queue(name)


@router.put(
    "/{name}",
    responses=responses_with(201, QueueConfig, "Queue created", 413),
)
async def put_queue(
    name: QueueName, update: QueueUpdate, response: Response, state: StateDep
) -> QueueConfig:
    """Create a queue or replace its limits (200, or 201 when created); keeps its paused state."""
    check_body_name(update.name, name)
    config = QueueConfig.model_validate({**update.model_dump(exclude={"name"}), "name": name})
    return put_answer(response, await state.put_queue(config))


@router.delete("/{name}", responses=responses(404, 409))
async def delete_queue(name: QueueName, state: StateDep) -> Message:
    """Delete an empty queue and drop it from every role (409 while it holds tasks)."""
    await state.delete_queue(name)
    return Message(message=f"queue {name!r} deleted")


@router.post("/{name}/pause", responses=responses(404))
async def pause_queue(name: QueueName, state: StateDep) -> QueueConfig:
    """Stop workers starting this queue's tasks; submissions are still accepted."""
    return await state.set_queue_paused(name, True)


@router.post("/{name}/resume", responses=responses(404))
async def resume_queue(name: QueueName, state: StateDep) -> QueueConfig:
    """Let workers start this queue's tasks again."""
    return await state.set_queue_paused(name, False)


@router.post("/{name}/purge", responses=responses(404))
async def purge_queue(name: QueueName, state: StateDep) -> PurgeResponse:
    """Cancel every waiting (submitted or scheduled) task of the queue; running ones finish."""
    return PurgeResponse(queue=name, cancelled=await state.purge_queue(name))
