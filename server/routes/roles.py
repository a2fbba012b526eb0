"""Roles: the queue lists workers consume."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from jobbers.api.schemas import Message, RolesResponse, RoleUpdate
from jobbers.models.queue import Role
from jobbers.store.facade import InvalidInput

from ..deps import RoleName, StateDep, require_token
from ..errors import located, responses

router = APIRouter(
    prefix="/roles",
    tags=["roles"],
    dependencies=[Depends(require_token)],
    responses=responses(401, 403, 503),
)


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
    responses={201: {"model": Role, "description": "Role created"}, **responses(413)},
)
async def put_role(
    role_name: RoleName, update: RoleUpdate, response: Response, state: StateDep
) -> Role:
    """Replace a role's queue list (200), or create the role (201); workers follow live."""
    if update.name is not None and update.name != role_name:
        raise located(
            InvalidInput(f"body name {update.name!r} does not match the path's {role_name!r}"),
            "body",
            "name",
        )
    role, created = await state.put_role(
        Role(
            name=role_name,
            queues=update.queues,
            strategy=update.strategy,
            weights=update.weights,
        )
    )
    if created:
        response.status_code = 201
    return role


@router.delete("/{role_name}", responses=responses(404))
async def delete_role(role_name: RoleName, state: StateDep) -> Message:
    """Delete a role; its workers finish what they run and take nothing new."""
    await state.delete_role(role_name)
    return Message(message=f"role {role_name!r} deleted")
