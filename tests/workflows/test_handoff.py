"""The hand-off from a parent to its child (issue 16): the claim that takes a released
child brings its parents' outcomes and results, so the worker starts it without another
round trip after the parent completed (bench/workflow.py measures the hand-off)."""

from __future__ import annotations

from jobbers.models.workflow import WorkflowRequest
from jobbers.store.facade import StateManager
from jobbers.store.protocol import RunOutcome
from jobbers.store.workflows import Workflows, decode_parents

KNOWN = {"step@1": (0, 0, -1)}


async def test_the_claim_of_a_child_carries_its_parents_outcomes(state: StateManager) -> None:
    await state.ensure_defaults()
    flows = Workflows(state)
    request = WorkflowRequest.model_validate(
        {
            "tasks": [
                {"key": "a", "name": "step"},
                {"key": "b", "name": "step"},
                {"key": "c", "name": "step", "depends_on": ["a", "b"]},
            ]
        }
    )
    submitted, _ = await flows.submit(request)
    ids = submitted.tasks
    await state.register_worker("w-1", 60_000, {"role": "default", "queues": '["default"]'})
    roots = await state.claim("w-1", "default", 2, KNOWN)
    assert sorted(t.id for t in roots.tasks) == sorted([ids["a"], ids["b"]])
    assert all(not t.has_parents and t.parent_reads == () for t in roots.tasks)
    by_id = {t.id: t for t in roots.tasks}
    a, b = by_id[ids["a"]], by_id[ids["b"]]
    await state.finish_many(
        [
            state.outcome_args(a.id, a.run_id, RunOutcome.COMPLETED, '{"value": "A"}'),
            state.outcome_args(b.id, b.run_id, RunOutcome.COMPLETED, "null"),
        ]
    )

    res = await state.claim("w-1", "default", 1, KNOWN)
    (child,) = res.tasks
    assert child.id == ids["c"] and child.has_parents
    statuses, results = decode_parents(child.parent_reads)
    assert statuses == {ids["a"]: "completed", ids["b"]: "completed"}
    # The same answer as the read on demand (task.parents, task.parent_results).
    assert (statuses, results) == await flows.parent_outcomes(ids["c"])
    assert results[ids["a"]] == {"value": "A"}
