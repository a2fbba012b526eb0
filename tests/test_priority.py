"""Priorities within a queue (issue 15 part 3): higher first, FIFO among equals.

Each priority of a type waits on its own list (``wl:{queue}:{name@version}:{p}``, the
default 5 keeping the plain name), and the claim reads the lists by priority, then time.
"""

from __future__ import annotations

from typing import Any

import pytest

from jobbers.errors import DuplicateTask
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status
from tests.test_compact import next_ms, waiting
from tests.test_head_of_line import PROMPT, SLOW_SWEEP, UNCAPPED, WORKER, _equals, running


@pytest.fixture(autouse=True)
def _tasks_reach_redis(clean_redis: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``held`` runs in this process and waits on the test's Redis."""
    monkeypatch.setenv("REDIS_URL", clean_redis)


async def submitted_in_turn(state: StateManager, specs: list[tuple[str, int]]) -> list[str]:
    """(name, priority) tasks submitted one per Redis millisecond; their ids in order."""
    out = []
    for name, priority in specs:
        out.append(str((await state.submit_task(Task(name=name, priority=priority))).id))
        await next_ms(state)
    return out


async def claim_one_by_one(state: StateManager, known: dict[str, Any] = UNCAPPED) -> list[str]:
    await state.register_worker(WORKER, 60_000, {"role": "default"})
    order: list[str] = []
    while True:
        res = await state.claim(WORKER, "default", 1, known)
        assert res.status == "ok", res
        if not res.tasks:
            return order
        order += [t.id for t in res.tasks]


async def test_a_claim_takes_the_highest_priority_first_and_equals_in_submit_order(
    state: StateManager,
) -> None:
    ids = await submitted_in_turn(
        state,
        [("add", 5), ("noop", 9), ("add", 0), ("add", 9), ("noop", 5), ("noop", 7), ("add", 7)],
    )
    expected = [ids[1], ids[3], ids[5], ids[6], ids[0], ids[4], ids[2]]
    assert await claim_one_by_one(state) == expected


async def test_a_batch_claim_merges_the_priorities_in_order(state: StateManager) -> None:
    ids = await submitted_in_turn(state, [("add", 1), ("noop", 8), ("add", 8), ("noop", 1)])
    await state.register_worker(WORKER, 60_000, {"role": "default"})
    res = await state.claim(WORKER, "default", 3, UNCAPPED)
    assert [t.id for t in res.tasks] == [ids[1], ids[2], ids[0]]


async def test_a_type_cap_holds_across_its_priorities(state: StateManager) -> None:
    """Each priority list is read up to the type's free slots: the cap counts them all."""
    ids = await submitted_in_turn(state, [("add", 9), ("add", 5), ("noop", 3)])
    await state.register_worker(WORKER, 60_000, {"role": "default"})
    one_add = {"add@1": (0, 0, 1), "noop@1": (0, 0, -1)}
    res = await state.claim(WORKER, "default", 10, one_add)
    assert [t.id for t in res.tasks] == [ids[0], ids[2]]
    assert await claim_one_by_one(state) == [ids[1]]


async def test_a_capped_type_on_two_priorities_leaves_room_for_another_type(
    state: StateManager,
) -> None:
    """Two free slots, one for `add`: its priority-8 task must not take the second slot
    from the `noop` behind it (nor hide it from the claim)."""
    ids = await submitted_in_turn(state, [("noop", 2), ("add", 9), ("add", 8)])
    await state.register_worker(WORKER, 60_000, {"role": "default"})
    one_add = {"add@1": (0, 0, 1), "noop@1": (0, 0, -1)}
    res = await state.claim(WORKER, "default", 2, one_add)
    assert [t.id for t in res.tasks] == [ids[1], ids[0]]


async def test_a_waiting_priority_task_is_compact_listed_counted_and_shown(
    state: StateManager,
) -> None:
    ids = await submitted_in_turn(state, [("add", 5), ("noop", 9), ("add", 2)])
    k = state.keys
    assert await state.redis.exists(k.task(ids[1])) == 0  # compact: a record only
    assert await state.redis.lrange(k.waiting_list("default", "noop@1:9"), 0, -1) == [ids[1]]
    assert await state.redis.lrange(k.waiting_list("default", "add@1"), 0, -1) == [ids[0]]
    assert (await state.get_task(ids[1])).priority == 9
    assert (await state.get_task(ids[0])).priority == 5
    # Listings (keyset pages of two) show every list, by submit time; depth counts them.
    assert await waiting(state) == ids
    page = await state.list_tasks(TaskStatus.SUBMITTED, "default", name="add")
    assert [(str(t.id), t.priority) for t in page.items] == [(ids[0], 5), (ids[2], 2)]
    # Claimed, the full form keeps the priority.
    assert await claim_one_by_one(state) == [ids[1], ids[0], ids[2]]
    assert (await state.get_task(ids[1])).priority == 9
    assert (await state.get_task(ids[2])).priority == 2


async def test_cancel_and_purge_reach_every_priority_list(state: StateManager) -> None:
    ids = await submitted_in_turn(state, [("add", 9), ("add", 5), ("noop", 0), ("noop", 9)])
    assert await state.cancel_task(ids[0]) == "cancelled"
    cancelled = await state.get_task(ids[0])
    assert cancelled.status == TaskStatus.CANCELLED
    assert cancelled.priority == 9
    # The cancelled task's list is gone with its tombstone, and left the type index.
    assert "add@1:9" not in await state.redis.zrange(state.keys.waiting_types("default"), 0, -1)
    assert await waiting(state) == ids[1:]
    assert await state.purge_queue("default") == 3
    assert await waiting(state) == []
    assert await state.redis.zcard(state.keys.waiting_types("default")) == 0
    assert (await state.get_task(ids[3])).status == TaskStatus.CANCELLED


async def test_a_paused_queue_holds_its_priority_tasks(state: StateManager) -> None:
    await submitted_in_turn(state, [("add", 9)])
    await state.register_worker(WORKER, 60_000, {"role": "default"})
    await state.set_queue_paused("default", True)
    assert (await state.claim(WORKER, "default", 1, UNCAPPED)).status == "paused"
    await state.set_queue_paused("default", False)
    assert len((await state.claim(WORKER, "default", 1, UNCAPPED)).tasks) == 1


async def test_tasks_that_wait_for_a_retry_keep_their_priority(state: StateManager) -> None:
    """A retry (by the worker, or by an operator) waits in full form on the list of its
    priority: ahead of the default tasks submitted before it came back."""
    await state.register_worker(WORKER, 60_000, {"role": "default"})
    [urgent] = await submitted_in_turn(state, [("add", 8)])
    [run] = (await state.claim(WORKER, "default", 1, UNCAPPED)).tasks
    older = await submitted_in_turn(state, [("noop", 5), ("noop", 7)])
    entry = {"attempt": 0, "kind": "error", "message": "boom"}
    assert (await state.schedule_retry(run.id, run.run_id, None, entry)).ok
    waiting_again = await state.get_task(urgent)
    assert (waiting_again.status, waiting_again.priority) == (TaskStatus.SUBMITTED, 8)
    [run] = (await state.claim(WORKER, "default", 1, UNCAPPED)).tasks
    assert run.id == urgent
    # Failed for good, then re-queued by an operator: still ahead of the default one.
    assert (await state.fail(run.id, run.run_id, entry)).ok
    await submitted_in_turn(state, [("noop", 5)])
    await state.retry_task(urgent)
    assert (await claim_one_by_one(state))[:2] == [urgent, older[1]]


@pytest.mark.parametrize("priority", [5, 9])
async def test_priority_is_part_of_the_idempotent_body(state: StateManager, priority: int) -> None:
    task = Task(name="add", priority=priority)
    _, created = await state.submit(task)
    assert created
    again, created = await state.submit(Task(id=task.id, name="add", priority=priority))
    assert not created
    assert again.priority == priority
    with pytest.raises(DuplicateTask):
        await state.submit(Task(id=task.id, name="add", priority=priority - 1))
    assert (await state.get_task(task.id)).priority == priority


async def test_a_capped_type_at_high_priority_never_delays_an_eligible_lower_one(
    state: StateManager, start_worker: Any
) -> None:
    """Issue 21's priority mix: the worker already runs two ``held`` tasks (its cap) when
    more of them arrive at priority 9, filling the head of the queue; a priority-1 task of
    another type, submitted after them, starts at once all the same."""
    await start_worker(concurrency=10, block_timeout=SLOW_SWEEP)
    await state.submit_many([Task(name="held", priority=9) for _ in range(2)])
    await eventually(lambda: _equals(running(state), 2), what="two held runs")
    await state.submit_many([Task(name="held", priority=9) for _ in range(50)])
    low = await state.submit_task(Task(name="noop", priority=1))
    await wait_status(state, low.id, TaskStatus.COMPLETED, within=PROMPT)
    assert await running(state) == 2
    assert (await state.stats()).statuses["submitted"] == 50


async def test_a_delayed_task_keeps_its_priority_when_it_becomes_due(state: StateManager) -> None:
    """A delayed submit waits in full form; when promoted it joins its priority's list,
    ahead of default tasks that were waiting before it became due."""
    delayed = await state.submit_task(Task(name="add", priority=8, delay=0.05))
    assert (await state.get_task(str(delayed.id))).status == TaskStatus.SCHEDULED
    plain = await submitted_in_turn(state, [("noop", 5)])

    async def promoted() -> bool:
        await state.promote_due()
        return (await state.get_task(str(delayed.id))).status == TaskStatus.SUBMITTED

    await eventually(promoted)
    assert await claim_one_by_one(state) == [str(delayed.id), *plain]
