"""Retention under sustained load: one pass clears a backlog larger than one batch.

A pass used to delete at most 500 tasks per status, about 50 a second at ``--interval 10``:
any load above that grew Redis without bound. Batches now repeat while they come back
full, within a time budget per pass.
"""

from __future__ import annotations

from jobbers.models.task import Task, TaskStatus
from jobbers.runtime.cleaner import Cleaner, CleanerSettings
from jobbers.store.facade import StateManager

RETENTION_BATCH = 500  # tasks per status a retention batch deletes (jobbers.runtime.cleaner)
BACKLOG = 5 * RETENTION_BATCH + 123


async def cancelled_backlog(state: StateManager, n: int) -> None:
    """``n`` terminal (cancelled) tasks: submitted in batches, then purged."""
    for start in range(0, n, 1000):
        await state.submit_many([Task(name="noop") for _ in range(min(1000, n - start))])
    assert await state.purge_queue("default") == n


async def test_one_pass_clears_a_backlog_of_many_batches(state: StateManager) -> None:
    await cancelled_backlog(state, BACKLOG)
    await state.submit_task(Task(name="noop"))  # waiting: never deleted
    cleaner = Cleaner(state, CleanerSettings(retention_s=0, failed_retention_s=0))
    report = await cleaner.run_once(reap=False)
    assert report.deleted == BACKLOG
    assert await state.redis.zcard(state.keys.status_index(TaskStatus.CANCELLED)) == 0
    page = await state.list_tasks(TaskStatus.SUBMITTED, None, 10, None)
    assert len(page.items) == 1


async def test_a_spent_budget_ends_the_pass_after_one_round(state: StateManager) -> None:
    await cancelled_backlog(state, 2 * RETENTION_BATCH + 1)
    settings = CleanerSettings(retention_s=0, failed_retention_s=0, retention_budget_s=0)
    cleaner = Cleaner(state, settings)
    assert (await cleaner.run_once(reap=False)).deleted == RETENTION_BATCH
    assert (await cleaner.run_once(reap=False)).deleted == RETENTION_BATCH
    assert (await cleaner.run_once(reap=False)).deleted == 1
