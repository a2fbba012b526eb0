"""Roles: the queue lists workers consume."""

from __future__ import annotations

from fastapi import Response

from jobbers.api.schemas import Message, RolesResponse, RoleUpdate
from jobbers.models.queue import Role

from ..deps import RoleName, StateDep, put_answer, resource_router
from ..errors import check_body_name, responses, responses_with

router = resource_router("roles", "/roles")


@router.get("")
async def list_roles(state: StateDep) -> RolesResponse:
    """Every role, sorted by name."""
    return RolesResponse(roles=await state.list_roles())


@router.post("", status_code=201, responses=responses(409, 413))
async def create_role(role: Role, state: StateDep) -> Role:
    """Create a role over existing queues; 409 if the name is taken."""
    return await state.create_role(role)


@router.get("/{role_name}", responses=responses(404))
async def get_role(role_name: RoleName, state: StateDep) -> Role:
    """One role's queues."""
    return await state.get_role(role_name)


@router.put(
    "/{role_name}",
    responses=responses_with(201, Role, "Role created", 413),
)
async def put_role(
    role_name: RoleName, update: RoleUpdate, response: Response, state: StateDep
) -> Role:
    """Replace a role's queue list (200), or create the role (201); workers follow live."""
    check_body_name(update.name, role_name)
    role = Role(
        name=role_name,
        queues=update.queues,
        strategy=update.strategy,
        weights=update.weights,
    )
    return put_answer(response, await state.put_role(role))


@router.delete("/{role_name}", responses=responses(404))
async def delete_role(role_name: RoleName, state: StateDep) -> Message:
    """Delete a role; its workers finish what they run and take nothing new."""
    await state.delete_role(role_name)
    return Message(message=f"role {role_name!r} deleted")
