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
from jobbers.store.facade import StateManager
from jobbers.store.protocol import RunOutcome
from tests.conftest import eventually, wait_status
from tests.test_compact import next_ms, waiting

SLOW_SWEEP = 30.0  # the worker's blocking wait: far longer than any deadline below
PROMPT = 5.0  # an eligible task starts well within this


@pytest.fixture(autouse=True)
def _tasks_reach_redis(clean_redis: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``held`` runs in this process and waits on the test's Redis."""
    monkeypatch.setenv("REDIS_URL", clean_redis)


async def running(state: StateManager, name: str = "held") -> int:
    page = await state.list_tasks(TaskStatus.STARTED, limit=1000)
    return sum(1 for t in page.items if t.name == name)


async def two_held_running(
    state: StateManager, start_worker: Any, held: int = 3, queue: str = "default", **worker: Any
) -> None:
    """A busy worker: ``held`` tasks at the head of ``queue``, two of them (the cap) running."""
    await start_worker(concurrency=10, block_timeout=SLOW_SWEEP, **worker)
    await state.submit_many([Task(name="held", queue=queue) for _ in range(held)])
    await eventually(lambda: _equals(running(state), 2), what="two held runs")


async def test_tasks_submitted_behind_a_capped_head_start_while_it_runs(
    state: StateManager, start_worker: Any
) -> None:
    """The issue's scenario: three capped reports, then three other tasks behind them."""
    await two_held_running(state, start_worker)
    behind = [await state.submit_task(Task(name="noop")) for _ in range(3)]
    for task in behind:
        await wait_status(state, task.id, TaskStatus.COMPLETED, within=PROMPT)
    # The cap held throughout: two runs, the third still waiting.
    assert await running(state) == 2
    assert (await state.stats()).statuses["submitted"] == 1
    # One run ends: the third starts in its place, and the cap still holds.
    await state.redis.rpush("test:release:held", 1)
    await eventually(
        lambda: _equals(_submitted(state), 0), within=PROMPT, what="the third held run"
    )
    assert await running(state) == 2


async def test_one_task_behind_a_thousand_capped_ones_starts_at_once(
    state: StateManager, start_worker: Any
) -> None:
    await two_held_running(state, start_worker, 1000)
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
    await two_held_running(state, start_worker, queue="metered", role="mixed")
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
    await two_held_running(state, start_worker)
    await start_worker(concurrency=10, block_timeout=SLOW_SWEEP)
    await eventually(lambda: _equals(running(state), 3), within=PROMPT, what="the third run")


async def _submitted(state: StateManager) -> int:
    return (await state.stats()).statuses["submitted"]


async def _equals(value: Any, expected: int) -> bool:
    return bool(await value == expected)


# ---------------------------------------------------------------- the claim script itself

WORKER = "w-hol"
UNCAPPED = {"add@1": (0, 0, -1), "noop@1": (0, 0, -1)}


async def submitted_in_turn(state: StateManager, names: list[str]) -> list[Task]:
    """Tasks submitted one per Redis millisecond, so that their order is their times'."""
    out = []
    for name in names:
        out.append(await state.submit_task(Task(name=name)))
        await next_ms(state)
    return out


async def claimed_ids(state: StateManager, n: int, known: dict[str, Any] = UNCAPPED) -> list[str]:
    res = await state.claim(WORKER, "default", n, known)
    assert res.status == "ok", res
    return [t.id for t in res.tasks]


async def test_claims_keep_submit_order_across_types_as_far_as_the_caps_allow(
    state: StateManager,
) -> None:
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    tasks = await submitted_in_turn(state, ["add", "noop", "add", "noop", "add", "noop"])
    ids = [str(t.id) for t in tasks]
    one_add = {"add@1": (0, 0, 1), "noop@1": (0, 0, -1)}
    assert await claimed_ids(state, 2) == ids[:2]
    # One more `add` may start: the oldest one, then every `noop` in order; the last add
    # waits.
    assert await claimed_ids(state, 3, one_add) == [ids[2], ids[3], ids[5]]
    assert await claimed_ids(state, 10) == [ids[4]]


async def test_listings_page_through_each_type_list_from_its_own_offset(
    state: StateManager,
) -> None:
    tasks = await submitted_in_turn(state, ["add", "add", "add", "noop", "add", "noop"])
    assert await waiting(state) == [str(t.id) for t in tasks]  # two a page


async def test_a_task_listed_twice_is_claimed_once(state: StateManager) -> None:
    """Audit item 9a: a task cancelled in the middle of its list leaves a tombstone there;
    re-queued, it is listed again at the tail, and the claim that meets both entries must
    return it once (the first entry counts, the second is dropped)."""
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    first, middle, last = [await state.submit_task(Task(name="noop")) for _ in range(3)]
    assert await state.cancel_task(middle.id) == "cancelled"
    await state.retry_task(middle.id)
    key = state.keys.waiting_list("default", "noop@1")
    assert await state.redis.lrange(key, 0, -1) == [
        str(t.id) for t in (first, middle, last, middle)
    ]
    got = await claimed_ids(state, 10)
    assert sorted(got) == sorted({str(first.id), str(middle.id), str(last.id)})
    assert len(got) == 3
    assert await state.redis.llen(key) == 0


async def test_a_claim_that_takes_nothing_for_a_stale_worker_passes_the_doorbell_on(
    state: StateManager,
) -> None:
    """Audit item 9b: the claim sent behind a blocking wait runs after the wait popped the
    doorbell; when it answers `config` or `dead` the work is still there, so the bell must
    be rung again for another worker (or this one, once it has caught up)."""
    wake = state.keys.wake(WORKER)
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    version = await state.config_version()
    await state.submit_task(Task(name="noop"))
    res = await state.wait_and_claim(WORKER, "default", 1, UNCAPPED, wake, 1, version + 1)
    assert res.status == "config"
    assert await state.wait_for_work(["default"], wake, 0.5) == "default"
    await state.submit_task(Task(name="noop"))  # rings the bell again
    res = await state.wait_and_claim("w-unknown", "default", 1, UNCAPPED, wake, 1, version)
    assert res.status == "dead"
    assert await state.wait_for_work(["default"], wake, 0.5) == "default"


async def test_waiting_tasks_of_the_old_layout_are_migrated_at_start(state: StateManager) -> None:
    """Tasks stored before per-type lists (one `q:{queue}` list of compact ids, full-form
    waiting tasks only in `s:submitted:{queue}`) move onto the lists when a worker or the
    manager starts (``ensure_defaults``), and are then listed, counted and claimed."""
    await state.ensure_defaults()
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    k, r = state.keys, state.redis
    retried = await state.submit_task(Task(name="noop"))
    [run] = (await state.claim(WORKER, "default", 1, UNCAPPED)).tasks
    fail = state.outcome_args(
        run.id,
        run.run_id,
        RunOutcome.FAILED,
        "",
        {"attempt": 0, "kind": "error", "message": "boom"},
    )
    assert (await state.finish_many([fail]))[0].ok
    old = await submitted_in_turn(state, ["add", "noop", "add"])
    await state.retry_task(retried.id)  # waits in full form, re-queued after `old`
    # Rebuild the old layout by hand: the compact ids on one list, no per-type lists.
    await r.delete(k.waiting_list("default", "add@1"), k.waiting_list("default", "noop@1"))
    await r.delete(k.waiting_types("default"), f"{k.prefix}layout")
    await r.rpush(k.legacy_waiting_list("default"), *[str(t.id) for t in old])
    assert await claimed_ids(state, 10) == []  # invisible until migrated
    await state.ensure_defaults()
    assert await r.exists(k.legacy_waiting_list("default")) == 0
    assert await r.get(f"{k.prefix}layout") == "2"
    expected = [str(t.id) for t in (*old, retried)]
    page = await state.list_tasks(TaskStatus.SUBMITTED, "default")
    assert [str(t.id) for t in page.items] == expected
    assert await claimed_ids(state, 10) == expected
