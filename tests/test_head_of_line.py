"""A type at its cap waits alone: the tasks behind it that a worker may start are started.

The worker is already busy when the tasks arrive (the case issue 21 found untested): it
runs two ``held`` tasks (``max_concurrent=2``) and more of them wait at the head of the
queue. Its blocking wait is set to 30 s, so a task that starts within a few seconds was
started by the doorbells, not by the periodic sweep.
"""

from __future__ import annotations

from typing import Any

import pytest

from jobbers.models.queue import QueueConfig, RatePeriod, Role
from jobbers.models.task import Task, TaskStatus
from jobbers.state_manager import StateManager
from tests.conftest import eventually, wait_status

SLOW_SWEEP = 30.0  # the worker's blocking wait: far longer than any deadline below
PROMPT = 5.0  # an eligible task starts well within this


@pytest.fixture(autouse=True)
def _tasks_reach_redis(clean_redis: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``held`` runs in this process and waits on the test's Redis."""
    monkeypatch.setenv("REDIS_URL", clean_redis)


async def running(state: StateManager, name: str = "held") -> int:
    page = await state.list_tasks(TaskStatus.STARTED, limit=1000)
    return sum(1 for t in page.items if t.name == name)


async def test_tasks_submitted_behind_a_capped_head_start_while_it_runs(
    state: StateManager, start_worker: Any
) -> None:
    """The issue's scenario: three capped reports, then three other tasks behind them."""
    await start_worker(concurrency=10, block_timeout=SLOW_SWEEP)
    await state.submit_many([Task(name="held") for _ in range(3)])
    await eventually(lambda: _equals(running(state), 2), what="two held runs")
    behind = [await state.submit_task(Task(name="noop")) for _ in range(3)]
    for task in behind:
        await wait_status(state, task.id, TaskStatus.COMPLETED, within=PROMPT)
    # The cap held throughout: two runs, the third still waiting.
    assert await running(state) == 2
    assert (await state.stats()).statuses["submitted"] == 1


async def test_one_task_behind_a_thousand_capped_ones_starts_at_once(
    state: StateManager, start_worker: Any
) -> None:
    await start_worker(concurrency=10, block_timeout=SLOW_SWEEP)
    await state.submit_many([Task(name="held") for _ in range(1000)])
    await eventually(lambda: _equals(running(state), 2), what="two held runs")
    last = await state.submit_task(Task(name="noop"))
    await wait_status(state, last.id, TaskStatus.COMPLETED, within=PROMPT)
    assert await running(state) == 2
    assert (await state.stats()).statuses["submitted"] == 998


async def test_a_rate_limited_queue_shelves_only_itself_and_caps_only_their_type(
    state: StateManager, start_worker: Any
) -> None:
    """The rate limit is the queue's (all its types): once spent, that queue waits for its
    window, and the worker's other queue does not. Within the window, a capped type does
    not hold back the other types of the rate-limited queue."""
    await state.create_queue(
        QueueConfig(name="metered", rate_numerator=4, rate_period=RatePeriod.MINUTE)
    )
    await state.create_role(Role(name="mixed", queues=["metered", "default"]))
    await start_worker(role="mixed", concurrency=10, block_timeout=SLOW_SWEEP)
    await state.submit_many([Task(name="held", queue="metered") for _ in range(3)])
    await eventually(lambda: _equals(running(state), 2), what="two held runs")
    # Third start of the window: a type without a cap, behind the capped head.
    eligible = await state.submit_task(Task(name="noop", queue="metered"))
    await wait_status(state, eligible.id, TaskStatus.COMPLETED, within=PROMPT)
    # Fourth start: one of these two; the other waits for the window to open.
    pair = [await state.submit_task(Task(name="noop", queue="metered")) for _ in range(2)]

    async def completed(tasks: list[Task]) -> int:
        found = [await state.get_task(t.id) for t in tasks]
        return sum(1 for t in found if t.status == TaskStatus.COMPLETED)

    await eventually(lambda: _equals(completed(pair), 1), within=PROMPT, what="one of the pair")
    other = await state.submit_task(Task(name="noop", queue="default"))
    await wait_status(state, other.id, TaskStatus.COMPLETED, within=PROMPT)
    assert await completed(pair) == 1
    assert await running(state) == 2


async def test_a_worker_with_room_for_a_capped_type_is_woken_for_it(
    state: StateManager, start_worker: Any
) -> None:
    """The first worker's claim leaves the third task at its cap and rings that type's
    doorbell; a second worker, with room for the type, takes it at once."""
    await start_worker(concurrency=10, block_timeout=SLOW_SWEEP)
    await state.submit_many([Task(name="held") for _ in range(3)])
    await eventually(lambda: _equals(running(state), 2), what="two held runs")
    await start_worker(concurrency=10, block_timeout=SLOW_SWEEP)
    await eventually(lambda: _equals(running(state), 3), within=PROMPT, what="the third run")


async def _equals(value: Any, expected: int) -> bool:
    return await value == expected
