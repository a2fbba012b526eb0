"""Short results live in the task's HASH (field ``res``), long ones in ``task:{id}:r``.

Each test would fail if a reader missed one of the two places: the task read (API,
CLI, TUI), a child's view of its parents' results, or results stored by the release
before (every result in ``task:{id}:r``).
"""

from __future__ import annotations

import json

from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from jobbers.store.protocol import RunOutcome
from jobbers.store.workflows import Workflows

WORKER = "w-results"
ANY = {"noop@1": (0, 0, -1)}
SHORT = {"n": 1}
LONG = {"text": "x" * 200}


async def complete(state: StateManager, results: object, n: int = 1) -> list[str]:
    """Claim ``n`` waiting tasks and complete each with ``results``; their ids."""
    res = await state.claim(WORKER, "default", n, ANY)
    assert res.status == "ok" and len(res.tasks) == n, res
    args = [
        state.outcome_args(t.id, t.run_id, RunOutcome.COMPLETED, json.dumps(results), None)
        for t in res.tasks
    ]
    assert all(r.ok for r in await state.finish_many(args))
    return [t.id for t in res.tasks]


async def test_short_results_need_no_key_of_their_own_and_long_ones_keep_it(
    state: StateManager,
) -> None:
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    await state.submit_task(Task(name="noop"))
    [short] = await complete(state, SHORT)
    await state.submit_task(Task(name="noop"))
    [long] = await complete(state, LONG)
    k = state.keys
    assert await state.redis.exists(k.results(short)) == 0
    assert await state.redis.exists(k.results(long)) == 1
    assert await state.redis.object("encoding", k.task(long)) == "listpack"
    assert (await state.get_task(short)).results == SHORT
    assert (await state.get_task(long)).results == LONG
    assert (await state.list_tasks(TaskStatus.COMPLETED)).items


async def test_results_stored_by_the_previous_release_still_read(state: StateManager) -> None:
    """The release before kept every result in ``task:{id}:r`` and no ``res`` field."""
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    await state.submit_task(Task(name="noop"))
    [tid] = await complete(state, SHORT)
    k = state.keys
    await state.redis.hdel(k.task(tid), "res")
    await state.redis.set(k.results(tid), json.dumps({"old": True}))
    assert (await state.get_task(tid)).results == {"old": True}


async def test_a_child_reads_its_parents_results_from_either_place(state: StateManager) -> None:
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    a = await state.submit_task(Task(name="noop"))
    b = await state.submit_task(Task(name="noop"))
    flow = Workflows(state)
    child, _ = await flow.submit_after(Task(name="noop", depends_on=[str(a.id), str(b.id)]))
    res = await state.claim(WORKER, "default", 2, ANY)
    by_id = {t.id: t for t in res.tasks}
    done = [
        state.outcome_args(
            str(a.id), by_id[str(a.id)].run_id, RunOutcome.COMPLETED, json.dumps(SHORT)
        ),
        state.outcome_args(
            str(b.id), by_id[str(b.id)].run_id, RunOutcome.COMPLETED, json.dumps(LONG)
        ),
    ]
    assert all(r.ok for r in await state.finish_many(done))
    statuses, results = await flow.parent_outcomes(str(child.id))
    assert statuses == {str(a.id): "completed", str(b.id): "completed"}
    assert results == {str(a.id): SHORT, str(b.id): LONG}
    # The claim hands the child the same reads (no round trip after its parents).
    claimed = await state.claim(WORKER, "default", 1, ANY)
    assert [t.id for t in claimed.tasks] == [str(child.id)]
    reads = {pid: json.loads(r or "null") for pid, _s, r in claimed.tasks[0].parent_reads}
    assert reads == {str(a.id): SHORT, str(b.id): LONG}
