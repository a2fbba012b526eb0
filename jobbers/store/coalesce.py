"""Group commit: concurrent calls of one operation share a round trip to Redis.

A caller that finds no batch in flight sends its item at once, itself, so a lone caller
pays nothing for the grouping; callers that arrive while a batch is in flight are sent
together in the next one. Under load (the manager serving many clients, a script
submitting from many coroutines) one script call carries many items, which is what makes
unbatched submits faster than one round trip each.

The worker's outcomes go through the same helper with ``linger``: runs that end together
end in the same event-loop tick, so even the first waits that one tick for its company.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    """Send items through ``send`` in batches of at most ``max_batch``, in arrival order.

    ``send`` returns, for each item, its result or the error for that item alone. With
    ``linger``, a caller that finds no batch in flight does not send alone at once: it
    waits one event-loop tick, and the callers of that tick go in its batch.
    """

    def __init__(
        self,
        send: Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]],
        max_batch: int,
        *,
        linger: bool = False,
    ) -> None:
        self._send = send
        self._max = max_batch
        self._linger = linger
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._busy = False  # a batch is in flight
        self._flusher: asyncio.Task[None] | None = None

    async def call(self, item: T) -> R:
        """The result for ``item``, raising its own error (or the batch's) if it failed."""
        if self._busy or self._linger:
            future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
            self._waiting.append((item, future))
            if not self._busy:
                self._busy = True
                self._flusher = asyncio.create_task(self._flush())
            return await future
        self._busy = True
        try:
            outcome = (await self._send([item]))[0]
        finally:
            self._hand_over()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _hand_over(self) -> None:
        """After a batch: send what queued up meanwhile in a task of its own, or go idle."""
        if self._waiting:
            self._flusher = asyncio.create_task(self._flush())
        else:
            self._busy = False

    async def _flush(self) -> None:
        try:
            while self._waiting:
                if self._linger:
                    await asyncio.sleep(0)  # let the other callers of this tick join the batch
                batch, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
                try:
                    outcomes = await self._send([item for item, _ in batch])
                except BaseException as exc:  # every waiter must hear of it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):  # cancelled: nobody will send the rest
                        for _, future in self._waiting:
                            if not future.done():
                                future.set_exception(exc)
                        self._waiting = []
                        raise
                    continue
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._busy = False
