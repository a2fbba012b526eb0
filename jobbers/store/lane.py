"""A dedicated Redis connection for a path that has one call in flight at a time.

Why: on an idle machine the first call after a pause runs cold, and redis-py's layers
around a command (the blocking pool's lock and timeout, its metrics hooks, the retry
wrapper, the pipeline object) cost 200-300 us of that cold Python per call, more than
the script they carry. Two paths have a single caller by construction: the submit
script (``jobbers.store.coalesce`` sends one batch at a time) and a worker's fetch loop (the
blocking wait and its claim). Each owns a ``Lane``: one connection made from the pool's
own settings (address, password, TLS, timeouts), used directly. A second caller that
finds the lane busy is told so and uses the pool.

Failures are handled as the pool's commands handle them: the connection's own retry
policy (the ``retry`` the StateManager was built with) decides which errors to retry, how
often and after what pause, and a failed attempt drops the connection so the next one
starts fresh. Any other interruption, a cancellation included, drops the connection too,
so an unread reply is never taken for the next call's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.exceptions
from redis.asyncio.connection import AbstractConnection, ConnectionPool


class LaneBusy(Exception):
    """The lane has a call in flight; use the pool."""


class Lane:
    """One connection, one call at a time, commands sent as one write."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._conn: AbstractConnection | None = None
        self.busy = False

    async def execute(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """The replies of ``commands``, in order; an error reply comes back as its exception.

        Raises ``LaneBusy`` at once if another call is in flight, and the connection's
        error when Redis stays unreachable through the retries.
        """
        if self.busy:
            raise LaneBusy
        self.busy = True
        try:
            if self._conn is None:
                self._conn = self._pool.connection_class(**self._pool.connection_kwargs)
            conn = self._conn

            async def drop(error: Exception) -> None:
                await conn.disconnect(nowait=True)

            return await conn.retry.call_with_retry(lambda: self._send(conn, commands), drop)
        except BaseException:
            await self.close()
            raise
        finally:
            self.busy = False

    @staticmethod
    async def _send(conn: AbstractConnection, commands: Sequence[Sequence[Any]]) -> list[Any]:
        if not conn.is_connected:
            # As the pool connects: through ``connect``, which a Sentinel-managed
            # connection overrides to ask the sentinels for the master's address first.
            await conn.connect()  # type: ignore[no-untyped-call]
        await conn.send_packed_command(conn.pack_commands(commands))
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(await conn.read_response())
            except redis.exceptions.ResponseError as exc:
                replies.append(exc)
        return replies

    async def close(self) -> None:
        """Drop the connection (the next call makes a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect(nowait=True)
