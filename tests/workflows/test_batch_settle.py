"""A finish batch asks once whether any of its completed tasks has children.

The test would fail if that one check missed a parent among childless tasks of the same
batch: the parent's child would wait for ever.
"""

from __future__ import annotations

from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from jobbers.store.protocol import RunOutcome
from jobbers.store.workflows import Workflows

WORKER = "w-settle"
ANY = {"noop@1": (0, 0, -1)}


async def test_a_parent_among_childless_tasks_of_one_batch_releases_its_child(
    state: StateManager,
) -> None:
    await state.register_worker(WORKER, 10_000, {"role": "default"})
    plain = [await state.submit_task(Task(name="noop")) for _ in range(3)]
    parent = await state.submit_task(Task(name="noop"))
    after = [await state.submit_task(Task(name="noop")) for _ in range(3)]
    child, _ = await Workflows(state).submit_after(Task(name="noop", depends_on=[str(parent.id)]))
    res = await state.claim(WORKER, "default", 7, ANY)
    assert {t.id for t in res.tasks} == {str(t.id) for t in [*plain, parent, *after]}
    done = [state.outcome_args(t.id, t.run_id, RunOutcome.COMPLETED, "null") for t in res.tasks]
    assert all(r.ok for r in await state.finish_many(done))
    assert (await state.get_task(child.id)).status is TaskStatus.SUBMITTED
    claimed = await state.claim(WORKER, "default", 5, ANY)
    assert [t.id for t in claimed.tasks] == [str(child.id)]
