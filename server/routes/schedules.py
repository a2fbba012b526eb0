"""Schedules (issue 15 §2): named cron or interval rules that submit a task at each tick."""

from __future__ import annotations

from fastapi import Response

from jobbers.api.schemas import (
    Message,
    SchedulesResponse,
    ScheduleUpdate,
    ScheduleView,
    TriggerResponse,
)
from jobbers.errors import InvalidInput
from jobbers.models.schedule import Schedule, ScheduledTaskSpec

from ..deps import ScheduleName, StateDep, check_registered, put_answer, resource_router
from ..errors import check_body_name, located, responses, responses_with

router = resource_router("schedules", "/schedules")


def _checked_task(task: ScheduledTaskSpec) -> None:
    """422 at ``task.name`` when this manager's tasks module has no such task."""
    check_registered(task.name, task.version, "body", "task")


def _pointed(exc: InvalidInput) -> InvalidInput:
    """A refused queue points at ``task.queue`` of the body."""
    return located(exc, "body", "task", exc.field) if exc.field == "queue" else exc


@router.get("")
async def list_schedules(state: StateDep) -> SchedulesResponse:
    """Every schedule with its next and last fire, sorted by name."""
    return SchedulesResponse(schedules=await state.list_schedules())


@router.post("", status_code=201, responses=responses(409, 413))
async def create_schedule(schedule: Schedule, state: StateDep) -> ScheduleView:
    """Create a schedule; 409 if the name is taken, 422 naming a bad field."""
    _checked_task(schedule.task)
    try:
        return await state.create_schedule(schedule)
    except InvalidInput as exc:
        raise _pointed(exc) from None


@router.get("/{schedule_name}", responses=responses(404))
async def get_schedule(schedule_name: ScheduleName, state: StateDep) -> ScheduleView:
    """One schedule with its next and last fire and the id of its last task."""
    return await state.get_schedule(schedule_name)


@router.put(
    "/{schedule_name}",
    responses=responses_with(201, ScheduleView, "Schedule created", 413),
)
async def put_schedule(
    schedule_name: ScheduleName, update: ScheduleUpdate, response: Response, state: StateDep
) -> ScheduleView:
    """Replace a schedule (200) or create it (201); its next tick is computed anew."""
    check_body_name(update.name, schedule_name)
    _checked_task(update.task)
    schedule = Schedule.model_validate({**update.model_dump(), "name": schedule_name})
    try:
        stored = await state.put_schedule(schedule)
    except InvalidInput as exc:
        raise _pointed(exc) from None
    return put_answer(response, stored)


@router.delete("/{schedule_name}", responses=responses(404))
async def delete_schedule(schedule_name: ScheduleName, state: StateDep) -> Message:
    """Delete a schedule; the tasks it fired are kept."""
    await state.delete_schedule(schedule_name)
    return Message(message=f"schedule {schedule_name!r} deleted")


@router.post("/{schedule_name}/pause", responses=responses(404, 409))
async def pause_schedule(schedule_name: ScheduleName, state: StateDep) -> ScheduleView:
    """Stop firing until resumed (no next tick)."""
    return await state.set_schedule_enabled(schedule_name, False)


@router.post("/{schedule_name}/resume", responses=responses(404, 409))
async def resume_schedule(schedule_name: ScheduleName, state: StateDep) -> ScheduleView:
    """Fire again, from the next tick after now."""
    return await state.set_schedule_enabled(schedule_name, True)


@router.post("/{schedule_name}/trigger", status_code=201, responses=responses(404, 409))
async def trigger_schedule(schedule_name: ScheduleName, state: StateDep) -> TriggerResponse:
    """Submit the schedule's task once now (paused or not, whatever its overlap policy)."""
    try:
        task = await state.trigger_schedule(schedule_name)
    except InvalidInput as exc:
        raise _pointed(exc) from None
    return TriggerResponse(message=f"schedule {schedule_name!r} triggered", task=task)
