"""Fresh tasks wait compact (a record and a list entry) and get their full form when touched.

Every test here would fail if submit wrote the full form at once (the first one looks), or
if a claim, cancel, purge, listing or count forgot the compact tasks or the tombstones
they leave.
"""

from __future__ import annotations

from jobbers.models.queue import QueueConfig
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from jobbers.store.protocol import RunOutcome

WORKER = "w-compact"
ANY = {"add@1": (0, 0, -1), "noop@1": (0, 0, -1)}
ENTRY = {"attempt": 0, "kind": "error", "message": "RuntimeError: boom"}


async def claim_ids(
    state: StateManager, n: int, known: dict[str, tuple[int, int, int]] = ANY
) -> list[str]:
    res = await state.claim(WORKER, "default", n, known)
    assert res.status == "ok", res
    return [t.id for t in res.tasks]


async def next_ms(state: StateManager) -> None:
    """Return once the Redis clock has moved to a later millisecond (scores are in ms)."""

    async def now() -> int:
        sec, usec = await state.redis.time()
        return int(sec) * 1000 + int(usec) // 1000

    start = await now()
    while await now() == start:
        pass


async def waiting(state: StateManager, queue: str = "default") -> list[str]:
    """Waiting ids, oldest first, paged 2 at a time; checked against the queue's depth."""
    ids: list[str] = []
    cursor = None
    while True:
        page = await state.list_tasks(TaskStatus.SUBMITTED, queue, limit=2, cursor=cursor)
        ids += [str(t.id) for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    depth = {q.name: q.depth for q in (await state.stats()).queues}[queue]
    assert depth == len(ids)
    return ids


async def test_a_fresh_task_has_no_full_form_until_a_worker_claims_it(state: StateManager) -> None:
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    task = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 2}))
    tid, k = str(task.id), state.keys
    assert await state.redis.exists(k.task(tid), k.params(tid)) == 0
    assert await state.redis.zscore(k.all_index(), tid) is None
    got = await state.get_task(tid)
    assert (got.status, got.parameters, got.submitted_at) == (
        TaskStatus.SUBMITTED,
        {"a": 1, "b": 2},
        task.submitted_at,
    )
    res = await state.claim(WORKER, "default", 1, ANY)
    assert [(t.id, t.name, t.version, t.attempt, t.parameters) for t in res.tasks] == [
        (tid, "add", 1, 0, {"a": 1, "b": 2})
    ]
    assert await state.redis.hget(k.waiting_records, tid) is None
    assert await state.redis.llen(k.waiting_list("default", "add@1")) == 0
    full = await state.get_task(tid)
    assert full.status == TaskStatus.STARTED and full.submitted_at == task.submitted_at
    assert full.parameters == {"a": 1, "b": 2} and full.worker_id == WORKER
    assert await state.redis.zscore(k.all_index("default"), tid) is not None
    assert (await state.stats()).statuses["submitted"] == 0


async def test_claims_take_compact_and_full_form_tasks_in_score_order(
    state: StateManager,
) -> None:
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    first = await state.submit_task(Task(name="noop"))
    # A task that failed and is retried by an operator waits in full form, after `first`.
    retried = await state.submit_task(Task(name="noop"))
    res = await state.claim(WORKER, "default", 2, ANY)
    assert [t.id for t in res.tasks] == [str(first.id), str(retried.id)]
    fail = state.outcome_args(str(retried.id), res.tasks[1].run_id, RunOutcome.FAILED, "", ENTRY)
    assert (await state.finish_many([fail]))[0].ok
    later = await state.submit_task(Task(name="noop"))
    await next_ms(state)
    await state.retry_task(retried.id)
    await next_ms(state)
    last = await state.submit_task(Task(name="noop"))
    assert await waiting(state) == [str(later.id), str(retried.id), str(last.id)]
    assert await claim_ids(state, 1) == [str(later.id)]
    assert await claim_ids(state, 5) == [str(retried.id), str(last.id)]
    assert await waiting(state) == []


async def test_a_type_at_its_cap_is_skipped_and_the_tasks_behind_it_are_taken(
    state: StateManager,
) -> None:
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    capped = await state.submit_task(Task(name="add"))
    behind = [await state.submit_task(Task(name="noop")) for _ in range(3)]
    no_add = {"add@1": (0, 0, 0), "noop@1": (0, 0, -1)}
    assert await claim_ids(state, 2, no_add) == [str(t.id) for t in behind[:2]]
    assert await waiting(state) == [str(capped.id), str(behind[2].id)]
    assert await claim_ids(state, 5) == [str(capped.id), str(behind[2].id)]


async def test_cancelled_compact_tasks_leave_tombstones_that_nothing_runs_or_counts(
    state: StateManager,
) -> None:
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    tasks = [await state.submit_task(Task(name="noop")) for _ in range(5)]
    for task in (tasks[0], tasks[2], tasks[4]):
        assert await state.cancel_task(task.id) == "cancelled"
    gone = await state.get_task(tasks[2].id)
    assert gone.status == TaskStatus.CANCELLED and gone.errors[-1].kind == "cancelled"
    assert await waiting(state) == [str(tasks[1].id), str(tasks[3].id)]
    # The tombstones at both ends went with their cancel; the one in the middle stays.
    assert await state.redis.llen(state.keys.waiting_list("default", "noop@1")) == 3
    assert (await state.stats()).statuses == {
        **(await state.stats()).statuses,
        "submitted": 2,
        "cancelled": 3,
    }
    assert await claim_ids(state, 5) == [str(tasks[1].id), str(tasks[3].id)]
    assert (
        await state.redis.llen(state.keys.waiting_list("default", "noop@1")) == 0
    )  # tombstones gone
    # An id cancelled while compact is stored for good: resubmitting it changes nothing.
    again, created = await state.submit(Task(id=tasks[0].id, name="noop"))
    assert not created and again.status == TaskStatus.CANCELLED


async def test_purge_reaches_past_many_tombstones(state: StateManager) -> None:
    await state.create_queue(QueueConfig(name="bulk"))
    batch = [Task(name="noop", queue="bulk") for _ in range(1200)]
    await state.submit_many(batch[:1000])
    await state.submit_many(batch[1000:])
    for task in batch[:600]:  # more tombstones than one purge step takes
        await state.cancel_task(task.id)
    assert await state.purge_queue("bulk") == 600
    assert await waiting(state, "bulk") == []
    assert (await state.get_task(batch[-1].id)).status == TaskStatus.CANCELLED
    await state.delete_queue("bulk")


async def test_listings_merge_compact_tasks_by_time(state: StateManager) -> None:
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    await state.create_queue(QueueConfig(name="other"))
    ids = []
    for i in range(7):
        task = await state.submit_task(Task(name="noop", queue=("default", "other")[i % 2]))
        ids.append(str(task.id))
        await next_ms(state)
    await claim_ids(state, 2)  # the two oldest of default get their full form
    newest_first: list[str] = []
    cursor = None
    while True:
        page = await state.list_tasks(limit=3, cursor=cursor)
        newest_first += [str(t.id) for t in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert newest_first == ids[::-1]
    mine = await state.list_tasks(queue="other", limit=50)
    assert [str(t.id) for t in mine.items] == ids[1::2][::-1]


async def test_a_long_run_of_tombstones_never_leaves_a_claim_empty_handed(
    state: StateManager,
) -> None:
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    tasks = await state.submit_many([Task(name="noop") for _ in range(100)])
    for task, _ in tasks[1:80]:  # more than a claim looks at (64), behind a live head
        await state.cancel_task(task.id)
    assert await claim_ids(state, 1) == [str(tasks[0][0].id)]
    assert await claim_ids(state, 1) == [str(tasks[80][0].id)]
    assert await waiting(state) == [str(t.id) for t, _ in tasks[81:]]
    everything = [str(t.id) for t in (await state.list_tasks(limit=200)).items]
    assert sorted(everything) == sorted(str(t.id) for t, _ in tasks)


async def test_a_mixed_batch_keeps_the_name_indexes_and_events_without_reading_each_task(
    state: StateManager,
) -> None:
    """A claim and a finish hand move_many the names, workers and attempts they read, and a
    claim takes only its full-form tasks off the `submitted` name index: each task must
    still land in its own name's indexes, and each event must name its task, worker and
    attempt (a retried task's attempt is 1, a fresh one's 0)."""
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    retried = await state.submit_task(Task(name="add"))
    res = await state.claim(WORKER, "default", 1, ANY)
    again = state.outcome_args(
        str(retried.id), res.tasks[0].run_id, RunOutcome.RETRIED, "-1", ENTRY
    )
    assert (await state.finish_many([again]))[0].ok
    fresh = await state.submit_task(Task(name="noop"))
    ids = {"add": str(retried.id), "noop": str(fresh.id)}
    after, _ = await state.read_events("0", 0, count=1000)
    res = await state.claim(WORKER, "default", 5, ANY)
    assert sorted(t.id for t in res.tasks) == sorted(ids.values())
    for name, tid in ids.items():
        page = await state.list_tasks(TaskStatus.STARTED, name=name)
        assert [str(t.id) for t in page.items] == [tid]
        assert (await state.list_tasks(TaskStatus.SUBMITTED, name=name)).items == []
    done = [
        state.outcome_args(t.id, t.run_id, RunOutcome.COMPLETED, '{"ok": 1}', None)
        for t in res.tasks
    ]
    assert all(r.ok for r in await state.finish_many(done))
    for name, tid in ids.items():
        page = await state.list_tasks(TaskStatus.COMPLETED, name=name)
        assert [str(t.id) for t in page.items] == [tid]
        assert (await state.list_tasks(TaskStatus.STARTED, name=name)).items == []
    _, events = await state.read_events(after, 0, count=1000)
    seen = {(e.task_id, e.name, e.status, e.worker_id, e.attempt) for e in events}
    for status in (TaskStatus.STARTED, TaskStatus.COMPLETED):
        assert (ids["add"], "add", status, WORKER, 1) in seen
        assert (ids["noop"], "noop", status, WORKER, 0) in seen
