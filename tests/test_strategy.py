"""How a worker shares its starts between its role's queues (issue 15 part 3).

Each test fills two queues before the worker starts, so both have work throughout, and
reads the order of the starts from the run ids (``{worker}/{sequence}``, one sequence per
Redis, so they order every claim).
"""

from __future__ import annotations

from typing import Any

import pytest

from jobbers.models.queue import QueueConfig, QueueStrategy, Role
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from tests.conftest import eventually


async def fill(state: StateManager, queue: str, n: int) -> None:
    await state.create_queue(QueueConfig(name=queue))
    await state.submit_many([Task(name="noop", queue=queue) for _ in range(n)])


async def start_order(state: StateManager, total: int) -> list[str]:
    """The queue of each start, in start order, once ``total`` tasks completed."""

    async def done() -> bool:
        page = await state.list_tasks(TaskStatus.COMPLETED, limit=1000)
        return len(page.items) == total

    await eventually(done, within=30, what=f"{total} completed tasks")
    page = await state.list_tasks(TaskStatus.COMPLETED, limit=1000)
    runs = []
    for task in page.items:
        run_id = await state.redis.hget(state.keys.task(str(task.id)), "run_id")
        runs.append((int(str(run_id).rsplit("/", 1)[1]), task.queue))
    return [queue for _, queue in sorted(runs)]


async def test_strict_serves_an_earlier_queue_first_while_it_has_work(
    state: StateManager, start_worker: Any
) -> None:
    await fill(state, "low", 20)  # older tasks, on the later queue
    await fill(state, "high", 20)
    await state.create_role(Role(name="ordered", queues=["high", "low"], strategy="strict"))
    await start_worker(role="ordered", concurrency=1)
    assert await start_order(state, 40) == ["high"] * 20 + ["low"] * 20


@pytest.mark.parametrize("concurrency", [1, 4])  # 4: claims take several tasks at once
@pytest.mark.parametrize(
    ("weights", "ratio"), [({"heavy": 3}, 3.0), ({"heavy": 2, "light": 2}, 1.0)]
)
async def test_weighted_gives_each_queue_starts_in_proportion_to_its_weight(
    state: StateManager,
    start_worker: Any,
    weights: dict[str, int],
    ratio: float,
    concurrency: int,
) -> None:
    await fill(state, "light", 60)
    await fill(state, "heavy", 60)
    role = Role(
        name="shared", queues=["light", "heavy"], strategy=QueueStrategy.WEIGHTED, weights=weights
    )
    await state.create_role(role)
    await start_worker(role="shared", concurrency=concurrency)
    order = await start_order(state, 120)
    # While both have work: up to the first queue to run dry.
    both = order[: min(len(order) - order[::-1].index(q) for q in ("light", "heavy"))]
    measured = both.count("heavy") / both.count("light")
    assert ratio * 0.8 <= measured <= ratio * 1.2, (measured, both)


async def test_round_robin_stays_the_default_and_alternates(
    state: StateManager, start_worker: Any
) -> None:
    await fill(state, "one", 20)
    await fill(state, "two", 20)
    await state.create_role(Role(name="plain", queues=["one", "two"]))
    assert (await state.get_role("plain")).strategy is QueueStrategy.ROUND_ROBIN
    await start_worker(role="plain", concurrency=1)
    order = await start_order(state, 40)
    assert abs(order[:20].count("one") - order[:20].count("two")) <= 2, order


def test_weights_belong_to_the_weighted_strategy_and_to_the_roles_queues() -> None:
    with pytest.raises(ValueError, match="weights need strategy 'weighted'"):
        Role(name="r", queues=["a"], weights={"a": 2})
    with pytest.raises(ValueError, match="does not have: b"):
        Role(name="r", queues=["a"], strategy="weighted", weights={"b": 2})
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Role(name="r", queues=["a"], strategy="weighted", weights={"a": 0})
