"""Queue administration racing itself: every write survives (compare-and-set scripts).

Pause, resume and limit updates used to read a queue's config and write it back whole, so
two of them at once lost one; deleting a queue rewrote the roles it had read, losing a
role edit made meanwhile, and could strand a task submitted between its check and delete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import pytest

from jobbers.errors import Conflict, InvalidInput, QueueNotFound
from jobbers.models.queue import QueueConfig, Role
from jobbers.models.task import Task
from jobbers.store.facade import StateManager

ROUNDS = 40
T = TypeVar("T")


async def test_pause_and_limit_update_racing_both_survive(state: StateManager) -> None:
    await state.create_queue(QueueConfig(name="q"))
    for i in range(ROUNDS):
        paused = i % 2 == 0
        await asyncio.gather(
            state.set_queue_paused("q", paused),
            state.put_queue(QueueConfig(name="q", max_concurrent=i + 1)),
        )
        stored = await state.get_queue("q")
        assert (stored.paused, stored.max_concurrent) == (paused, i + 1), f"round {i}"


async def test_pause_and_resume_of_two_queues_racing_keep_both(state: StateManager) -> None:
    for name in ("a", "b"):
        await state.create_queue(QueueConfig(name=name))
    for i in range(ROUNDS):
        await asyncio.gather(
            state.set_queue_paused("a", i % 2 == 0),
            state.put_queue(
                QueueConfig(
                    name="a", rate_numerator=i + 1, rate_denominator=1, rate_period="second"
                )
            ),
            state.set_queue_paused("b", i % 2 == 1),
        )
        a, b = await state.get_queue("a"), await state.get_queue("b")
        assert (a.paused, a.rate_numerator, b.paused) == (i % 2 == 0, i + 1, i % 2 == 1)


async def later(steps: int, call: Awaitable[T]) -> T:
    """``call``, started after ``steps`` turns of the event loop: sweeps the race window."""
    for _ in range(steps):
        await asyncio.sleep(0)
    return await call


async def test_delete_racing_an_edit_of_the_same_role_keeps_the_edit(state: StateManager) -> None:
    await state.create_queue(QueueConfig(name="extra"))
    for i in range(ROUNDS):
        name = f"gone{i}"
        await state.create_queue(QueueConfig(name=name))
        await state.put_role(Role(name="r", queues=[name]))
        _, edited = await asyncio.gather(
            state.delete_queue(name),
            later(i % 10, state.put_role(Role(name="r", queues=[name, "extra"]))),
            return_exceptions=True,
        )
        role = await state.get_role("r")
        if not isinstance(edited, BaseException):  # refused when the queue went first
            assert "extra" in role.queues, f"round {i}: the role edit was lost"


async def test_delete_racing_a_submit_strands_nothing(state: StateManager) -> None:
    for i in range(ROUNDS):
        name = f"q{i}"
        await state.create_queue(QueueConfig(name=name))
        deleted, submitted = await asyncio.gather(
            state.delete_queue(name),
            later(i % 40, state.submit(Task(name="add", queue=name, parameters={"a": 1}))),
            return_exceptions=True,
        )
        # Either the queue went first (the submit is refused) or the task did (the delete
        # is refused): never a stored task on a queue that no longer exists.
        if deleted is None:
            assert isinstance(submitted, InvalidInput), (i, submitted)
            with pytest.raises(QueueNotFound):
                await state.get_queue(name)
        else:
            assert isinstance(deleted, Conflict), deleted
            assert not isinstance(submitted, BaseException), submitted
            assert (await state.get_queue(name)).name == name
