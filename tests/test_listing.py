"""Listings: keyset cursors that survive changes between pages, the task-name filter read
from the per-(status, name) indexes, and summary rows without parameters or results."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from jobbers.errors import InvalidInput
from jobbers.models.queue import QueueConfig
from jobbers.models.task import Task, TaskStatus, TaskSummary
from jobbers.runtime.cleaner import Cleaner, CleanerSettings
from jobbers.store.facade import StateManager
from tests.conftest import wait_status

KNOWN = {"add@1": (0, 0, -1), "noop@1": (0, 0, -1)}


async def cancelled(
    state: StateManager, n: int, name: str = "add", queue: str = "default"
) -> list[str]:
    """Ids of ``n`` new tasks, each cancelled while waiting (newest last)."""
    ids = []
    for _ in range(n):
        task = await state.submit_task(Task(name=name, queue=queue))
        await state.cancel_task(task.id)
        ids.append(str(task.id))
    return ids


async def submitted(
    state: StateManager, n: int, name: str = "add", queue: str = "default"
) -> list[str]:
    return [str((await state.submit_task(Task(name=name, queue=queue))).id) for _ in range(n)]


async def named_apart(
    state: StateManager, make: Callable[..., Awaitable[list[str]]]
) -> tuple[list[str], list[str], list[str]]:
    """Ids of tasks ``make`` leaves in a status: three ``add`` and two ``noop`` in the default
    queue, one ``noop`` in a queue ``other``."""
    await state.create_queue(QueueConfig(name="other"))
    adds = await make(state, 3)
    noops = await make(state, 2, name="noop")
    return adds, noops, await make(state, 1, name="noop", queue="other")


async def claimable(state: StateManager, n: int) -> list[str]:
    """Ids of ``n`` new waiting tasks, with the worker ``w1`` registered to claim them."""
    await state.register_worker("w1", 60_000, {"role": "default"})
    return await submitted(state, n)


def ids_of(items: list[Any]) -> list[str]:
    return [str(t.id) for t in items]


async def rest(state: StateManager, cursor: str | None, **query: Any) -> list[str]:
    """Every id from ``cursor`` to the end of the listing, page by page."""
    seen: list[str] = []
    while cursor is not None:
        page = await state.list_tasks(cursor=cursor, **query)
        seen += ids_of(page.items)
        cursor = page.next_cursor
    return seen


# ---------------------------------------------------------------- keyset cursors (item 1)


async def test_pages_of_a_status_neither_skip_nor_repeat_when_it_changes(
    state: StateManager,
) -> None:
    """Removing listed tasks (retry) and adding newer ones between pages changes nothing."""
    await cancelled(state, 10)
    query: dict[str, Any] = {"status": TaskStatus.CANCELLED, "limit": 4}
    expected = ids_of((await state.list_tasks(TaskStatus.CANCELLED, limit=1000)).items)
    page1 = await state.list_tasks(**query)
    seen = ids_of(page1.items)
    for tid in seen[:2]:  # tasks already listed leave the status
        await state.retry_task(tid)
    page2 = await state.list_tasks(cursor=page1.next_cursor, **query)
    seen += ids_of(page2.items)
    await cancelled(state, 3)  # newer than the pages read: they sort before them
    seen += await rest(state, page2.next_cursor, **query)
    assert seen == expected


async def test_pages_of_waiting_tasks_survive_claims_and_new_submits(
    state: StateManager,
) -> None:
    """Oldest first over the compact list and the full-form index: claims trim the list."""
    ids = await claimable(state, 10)
    query: dict[str, Any] = {"status": TaskStatus.SUBMITTED, "limit": 4}
    page1 = await state.list_tasks(**query)
    assert ids_of(page1.items) == ids[:4]
    claimed = await state.claim("w1", "default", 3, KNOWN)  # the three oldest, listed
    assert [t.id for t in claimed.tasks] == ids[:3]
    later = await submitted(state, 2)
    seen = ids_of(page1.items) + await rest(state, page1.next_cursor, **query)
    assert seen == ids + later


async def test_pages_of_every_status_list_a_task_claimed_between_them_once(
    state: StateManager,
) -> None:
    """Newest first over ``all`` and the list: a claimed task moves from one to the other."""
    ids = await claimable(state, 8)
    page1 = await state.list_tasks(limit=3)
    assert ids_of(page1.items) == ids[::-1][:3]
    await submitted(state, 2)  # newer than page 1: not part of what is left
    await state.claim("w1", "default", 4, KNOWN)  # the oldest four get their full form
    seen = ids_of(page1.items) + await rest(state, page1.next_cursor, limit=3)
    assert seen == ids[::-1]


async def test_pages_of_the_dlq_survive_removals(state: StateManager, start_worker: Any) -> None:
    await start_worker()
    boom = [await state.submit_task(Task(name="boom")) for _ in range(6)]
    for task in boom:
        await wait_status(state, task.id, "failed")
    expected = ids_of((await state.list_dlq(limit=100)).items)
    page1 = await state.list_dlq(limit=2)
    assert await state.remove_from_dlq(ids_of(page1.items)) == 2
    seen = ids_of(page1.items)
    cursor = page1.next_cursor
    while cursor is not None:
        page = await state.list_dlq(limit=2, cursor=cursor)
        seen += ids_of(page.items)
        cursor = page.next_cursor
    assert seen == expected


def forged(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    [
        "o5",  # an offset cursor of old
        "k1,2]",
        "k[null]",
        'k[[1e400,"01J00000000000000000000000"],{}]',
        'k[[1,"not-a-ulid"],{}]',
        'k[[true,"01J00000000000000000000000"],{}]',
        'k[null,{"default":[1]}]',
        "k[null,[]]",
    ],
)
async def test_malformed_cursors_are_invalid_input(state: StateManager, raw: str) -> None:
    with pytest.raises(InvalidInput):
        await state.list_tasks(cursor=forged(raw))
    with pytest.raises(InvalidInput):
        await state.list_dlq(cursor=forged(raw))


async def test_a_cursor_past_the_end_ends_the_listing(state: StateManager) -> None:
    await submitted(state, 2)
    end = forged('k[[9007199254740992,"7ZZZZZZZZZZZZZZZZZZZZZZZZZ"],{}]')
    page = await state.list_tasks(TaskStatus.SUBMITTED, cursor=end)
    assert page.items == [] and page.next_cursor is None


# ---------------------------------------------------------------- name filter (item 2)


async def test_listings_filter_by_task_name(state: StateManager) -> None:
    adds, noops, other = await named_apart(state, cancelled)
    page = await state.list_tasks(TaskStatus.CANCELLED, name="add")
    assert ids_of(page.items) == adds[::-1]
    assert ids_of((await state.list_tasks(name="noop")).items) == (noops + other)[::-1]
    assert ids_of((await state.list_tasks(queue="other", name="noop")).items) == other
    assert (await state.list_tasks(TaskStatus.COMPLETED, name="add")).items == []
    # A retried task leaves the `cancelled` index of its name for the `submitted` one.
    await state.retry_task(adds[0])
    assert ids_of((await state.list_tasks(TaskStatus.SUBMITTED, name="add")).items) == [adds[0]]
    assert adds[0] not in ids_of((await state.list_tasks(TaskStatus.CANCELLED, name="add")).items)
    with pytest.raises(InvalidInput):
        await state.list_tasks(name="a:b")


async def test_running_tasks_filter_by_task_name(state: StateManager) -> None:
    add = await claimable(state, 2)
    noop = await submitted(state, 1, name="noop")
    await state.claim("w1", "default", 3, KNOWN)
    assert ids_of((await state.active_tasks(name="add")).items) == add
    assert ids_of((await state.active_tasks(name="noop")).items) == noop
    assert ids_of((await state.list_tasks(TaskStatus.SUBMITTED, name="add")).items) == []


async def test_name_filtered_pages_follow_keys(state: StateManager) -> None:
    noops = await cancelled(state, 5, name="noop")
    await cancelled(state, 5)
    query: dict[str, Any] = {"status": TaskStatus.CANCELLED, "name": "noop", "limit": 2}
    page1 = await state.list_tasks(**query)
    await state.retry_task(noops[-1])  # listed first (newest first), now gone
    seen = ids_of(page1.items) + await rest(state, page1.next_cursor, **query)
    assert seen == noops[::-1]


async def test_retention_removes_tasks_from_the_per_name_indexes(state: StateManager) -> None:
    await cancelled(state, 3)
    index = state.keys.status_name_index(TaskStatus.CANCELLED, "add")
    assert await state.redis.zcard(index) == 3
    await Cleaner(state, CleanerSettings(retention_s=0, failed_retention_s=0)).run_once()
    assert await state.redis.zcard(index) == 0
    assert (await state.list_tasks(name="add")).items == []


# ---------------------------------------------------------------- summary rows (item 3)


async def test_list_rows_leave_out_parameters_and_results(state: StateManager) -> None:
    big = {"blob": "x" * 1000}
    waiting = await state.submit_task(Task(name="add", parameters=big))
    done = await state.submit_task(Task(name="add", parameters=big))
    await state.cancel_task(done.id)
    rows = (await state.list_tasks()).items
    assert {str(r.id) for r in rows} == {str(waiting.id), str(done.id)}
    for row in rows:
        assert type(row) is TaskSummary
        assert "parameters" not in row.model_dump() and "results" not in row.model_dump()
    assert (await state.get_task(waiting.id)).parameters == big  # the whole task is one call away


async def test_pages_through_one_batch_of_waiting_tasks_list_each_once(
    state: StateManager,
) -> None:
    """A batch shares one submit time: its list order (submit order) is not its id order."""
    batch = [Task(name="add") for _ in range(40)]
    await state.submit_many(batch[::-1])
    query: dict[str, Any] = {"status": TaskStatus.SUBMITTED, "limit": 7}
    page1 = await state.list_tasks(**query)
    seen = ids_of(page1.items) + await rest(state, page1.next_cursor, **query)
    assert sorted(seen) == sorted(str(t.id) for t in batch) and len(set(seen)) == 40
    everything = ids_of((await state.list_tasks(limit=7)).items)
    assert len(everything) == 7
    newest = await rest(state, (await state.list_tasks(limit=7)).next_cursor, limit=7)
    assert sorted(everything + newest) == sorted(seen) and len(set(everything + newest)) == 40


async def test_newest_first_pages_go_on_when_the_last_task_shown_was_claimed(
    state: StateManager,
) -> None:
    ids = await claimable(state, 8)
    page1 = await state.list_tasks(limit=3)
    page2 = await state.list_tasks(limit=3, cursor=page1.next_cursor)
    assert ids_of(page1.items + page2.items) == ids[::-1][:6]
    await state.claim("w1", "default", 4, KNOWN)  # takes the last task shown, and older ones
    later = await submitted(state, 1)
    seen = ids_of(page1.items + page2.items) + await rest(state, page2.next_cursor, limit=3)
    assert seen == ids[::-1]
    assert later[0] not in seen  # newer than the pages: it was not part of what was left


def test_the_longest_cursor_fits_the_api_limit() -> None:
    """A cursor keeps at most MAX_CURSOR_LISTS list positions, so it stays within 4 KiB."""
    from jobbers.store.listings import MAX_CURSOR_LISTS, MAX_SOURCE_NAME, Key, PageCursor

    tid = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
    lists = {f"{i:03d}".ljust(MAX_SOURCE_NAME, "q"): Key(2**52 + 0.5, tid) for i in range(40)}
    cursor = PageCursor(Key(2**52 + 0.5, tid), lists).encode()
    assert len(cursor) <= 4096
    kept = PageCursor.decode(cursor).lists
    assert len(kept) == MAX_CURSOR_LISTS and list(kept) == list(lists)[-MAX_CURSOR_LISTS:]


async def test_name_filtered_listings_include_compact_waiting_tasks(state: StateManager) -> None:
    """Waiting tasks never claimed are compact (in no index): their per-type lists list them."""
    adds, noops, other = await named_apart(state, submitted)
    page = await state.list_tasks(TaskStatus.SUBMITTED, name="noop")
    assert sorted(ids_of(page.items)) == sorted(noops + other)
    assert ids_of((await state.list_tasks(TaskStatus.SUBMITTED, name="add")).items) == adds
    assert ids_of((await state.list_tasks(queue="other", name="noop")).items) == other
    pages = ids_of((await state.list_tasks(name="noop", limit=1)).items)
    assert len(pages) == 1 and pages[0] in noops + other


async def test_running_tasks_are_listed_by_name_without_a_per_name_index(
    state: StateManager,
) -> None:
    """A run writes no `s:started:n:{name}` entry: a listing by name filters `s:started`.
    It must still find exactly the running tasks of that name (every status or `started`,
    with or without a queue), and a run's end must leave no stale row behind."""
    from jobbers.store.protocol import RunOutcome

    await state.register_worker("w-names", 10_000, {"role": "default"})
    await state.create_queue(QueueConfig(name="other"))
    adds = [str((await state.submit_task(Task(name="add"))).id) for _ in range(3)]
    noops = [str((await state.submit_task(Task(name="noop"))).id) for _ in range(5)]
    res = await state.claim("w-names", "default", 8, KNOWN)
    assert len(res.tasks) == 8
    assert await state.redis.exists(state.keys.status_name_index(TaskStatus.STARTED, "add")) == 0
    page = await state.list_tasks(TaskStatus.STARTED, name="add", limit=2)
    rest = await state.list_tasks(TaskStatus.STARTED, name="add", cursor=page.next_cursor)
    assert sorted(ids_of(page.items + rest.items)) == sorted(adds)
    assert sorted(ids_of((await state.list_tasks(name="noop")).items)) == sorted(noops)
    assert ids_of((await state.list_tasks(TaskStatus.STARTED, "other", name="add")).items) == []
    assert sorted(ids_of((await state.list_tasks(queue="default", name="add")).items)) == sorted(
        adds
    )
    runs = {t.id: t.run_id for t in res.tasks}
    done = [state.outcome_args(i, runs[i], RunOutcome.COMPLETED, "null") for i in adds[:2]]
    fail = state.outcome_args(adds[2], runs[adds[2]], RunOutcome.FAILED, "", None)
    assert all(r.ok for r in await state.finish_many([*done, fail]))
    assert (await state.list_tasks(TaskStatus.STARTED, name="add")).items == []
    assert sorted(ids_of((await state.list_tasks(name="add")).items)) == sorted(adds)
    assert ids_of((await state.list_tasks(TaskStatus.FAILED, name="add")).items) == [adds[2]]
