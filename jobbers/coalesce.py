"""Group commit: concurrent calls of one operation share a round trip to Redis.

A caller that finds no batch in flight sends its item at once, so a lone caller waits no
longer than before; callers that arrive while a batch is in flight are sent together in the
next one. Under load (the manager serving many clients, a script submitting from many
coroutines) one script call carries many items, which is what makes unbatched submits
faster than one round trip each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """Send items through ``send`` in batches of at most ``max_batch``, in arrival order.

    ``send`` returns, for each item, its result or the error for that item alone.
    """

    def __init__(
        self, send: Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]], max_batch: int
    ) -> None:
        self._send = send
        self._max = max_batch
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def call(self, item: T) -> R:
        """The result for ``item``, raising its own error (or the batch's) if it failed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
            try:
                outcomes = await self._send([item for item, _ in batch])
            except BaseException as exc:  # every waiter must hear of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
