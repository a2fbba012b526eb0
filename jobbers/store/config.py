"""Queues and roles: the configuration workers read, and the counter that tells them it changed.

A part of ``StateManager`` (``jobbers.store.facade``), which offers these verbs under their
own names. Every change bumps ``cfgver`` and publishes a ``config`` hint, so workers re-read
their routing at once (the hint) or at their next beat (the counter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from redis.asyncio import Redis

from jobbers.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    JobbersError,
    QueueNotFound,
    RoleNotFound,
)
from jobbers.models.queue import QueueConfig, Role
from jobbers.store.keys import Keys
from jobbers.store.scripts import Scripts
from jobbers.store.verbs import store_verbs

M = TypeVar("M", QueueConfig, Role)

# Compare-and-set rounds of a queue or schedule change before it gives up (each round
# loses only to another write).
CAS_TRIES = 50


def _dump_queue(config: QueueConfig) -> str:
    return config.model_dump_json(exclude_none=True)


@store_verbs
class Config:
    """Queue and role verbs; ``StateManager`` owns one and offers its verbs."""

    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts) -> None:
        self.redis = redis
        self.keys = keys
        self.scripts = scripts

    # ---------------------------------------------------------------- queues

    async def list_queues(self) -> list[QueueConfig]:
        """Every queue, sorted by name."""
        raw = await self.redis.hgetall(self.keys.queues)
        return sorted(
            (QueueConfig.model_validate_json(v) for v in raw.values()), key=lambda q: q.name
        )

    async def get_queue(self, name: str) -> QueueConfig:
        """One queue's configuration; QueueNotFound if absent."""
        return await self._read(self.keys.queues, name, QueueConfig, QueueNotFound)

    async def create_queue(self, config: QueueConfig) -> QueueConfig:
        """Create a queue; AlreadyExists if the name is taken."""
        if not await self.redis.hsetnx(self.keys.queues, config.name, _dump_queue(config)):
            raise AlreadyExists(f"queue {config.name!r} already exists")
        await self.announce_change()
        return config

    async def put_queue(self, config: QueueConfig) -> tuple[QueueConfig, bool]:
        """Create or replace a queue's limits, keeping its paused state: (config, created)."""

        def keep_paused(current: QueueConfig | None) -> QueueConfig:
            return (
                config if current is None else config.model_copy(update={"paused": current.paused})
            )

        return await self._change_queue(config.name, keep_paused)

    async def delete_queue(self, name: str) -> None:
        """Delete an empty queue and remove it from every role, atomically.

        A queue with waiting, scheduled or running tasks is a Conflict: purge it first, so
        no task is stranded on a queue nobody reads.
        """
        for _ in range(CAS_TRIES):
            roles = await self.redis.hgetall(self.keys.roles)
            argv: list[str | bytes | int] = [name, len(roles)]
            for role_name, raw in roles.items():
                role = Role.model_validate_json(raw)
                kept = [q for q in role.queues if q != name]
                edited = role.model_copy(update={"queues": kept}).model_dump_json()
                argv += [role_name, raw, "" if kept == role.queues else edited]
            res = await self.scripts.run("queue_delete", *argv)
            match res[0]:
                case "ok":
                    return
                case "missing":
                    raise QueueNotFound(f"queue {name!r} not found")
                case "busy":
                    waiting, scheduled, running = (int(n) for n in res[1:4])
                    raise Conflict(
                        f"queue {name!r} still has {waiting} waiting, {scheduled} scheduled "
                        f"and {running} running tasks; purge it and let running tasks finish "
                        "first"
                    )
        raise Conflict(f"the roles kept changing while queue {name!r} was deleted; try again")

    async def set_queue_paused(self, name: str, paused: bool) -> QueueConfig:
        """Pause or resume a queue. Paused queues accept tasks; no worker starts them."""

        def with_paused(current: QueueConfig | None) -> QueueConfig:
            if current is None:
                raise QueueNotFound(f"queue {name!r} not found")
            return current.model_copy(update={"paused": paused})

        config, _ = await self._change_queue(name, with_paused, ring=not paused)
        return config

    async def _change_queue(
        self,
        name: str,
        change: Callable[[QueueConfig | None], QueueConfig],
        ring: bool = False,
    ) -> tuple[QueueConfig, bool]:
        """Read a queue, apply ``change`` and write it back only if nobody wrote in between.

        A plain read-then-write let a pause and a limits update race and lose one of them;
        the script writes only over the config this call read, else it reads again.
        Returns (config written, created).
        """
        for _ in range(CAS_TRIES):
            raw = await self.redis.hget(self.keys.queues, name)
            current = QueueConfig.model_validate_json(raw) if raw is not None else None
            config = change(current)
            written = await self.scripts.run(
                "queue_set", name, raw or "", _dump_queue(config), "1" if ring else ""
            )
            if int(written):
                return config, current is None
        raise Conflict(f"queue {name!r} kept changing while it was updated; try again")

    async def purge_queue(self, name: str) -> int:
        """Cancel every waiting (submitted or scheduled) task of a queue; returns the count."""
        await self.get_queue(name)
        total = 0
        while True:
            n, more = await self.scripts.run("purge", name, 500)
            total += int(n)
            if not int(more):
                return total

    # ---------------------------------------------------------------- roles

    async def list_roles(self) -> list[Role]:
        """Every role, sorted by name."""
        raw = await self.redis.hgetall(self.keys.roles)
        return sorted((Role.model_validate_json(v) for v in raw.values()), key=lambda r: r.name)

    async def get_role(self, name: str) -> Role:
        """One role; RoleNotFound if absent."""
        return await self._read(self.keys.roles, name, Role, RoleNotFound)

    async def _read(self, key: str, name: str, model: type[M], missing: type[JobbersError]) -> M:
        """The record ``name`` of the hash ``key`` (queues or roles); ``missing`` if absent."""
        raw = await self.redis.hget(key, name)
        if raw is None:
            raise missing(f"{model.__name__.lower().removesuffix('config')} {name!r} not found")
        return model.model_validate_json(raw)

    async def _check_role_queues(self, role: Role) -> None:
        known = set(await self.redis.hkeys(self.keys.queues))
        missing = [q for q in role.queues if q not in known]
        if missing:
            raise InvalidInput(f"role {role.name!r} names unknown queues: {', '.join(missing)}")

    async def create_role(self, role: Role) -> Role:
        """Create a role over existing queues; AlreadyExists if the name is taken."""
        await self._check_role_queues(role)
        if not await self.redis.hsetnx(self.keys.roles, role.name, role.model_dump_json()):
            raise AlreadyExists(f"role {role.name!r} already exists")
        await self.announce_change()
        return role

    async def put_role(self, role: Role) -> tuple[Role, bool]:
        """Create or replace a role's queue list; returns (role, created)."""
        await self._check_role_queues(role)
        created = bool(await self.redis.hset(self.keys.roles, role.name, role.model_dump_json()))
        await self.announce_change()
        return role, created

    async def delete_role(self, name: str) -> None:
        """Delete a role; its workers stop taking new tasks and finish what they run."""
        if not await self.redis.hdel(self.keys.roles, name):
            raise RoleNotFound(f"role {name!r} not found")
        await self.announce_change()

    async def config_version(self) -> int:
        """The counter every queue or role change bumps."""
        return int(await self.redis.get(self.keys.config_version) or 0)

    async def announce_change(self) -> None:
        """Tell the workers: bump the counter they poll and publish the hint they hear."""
        await self.redis.incr(self.keys.config_version)
        await self.redis.publish(self.keys.events, "config")
