"""Retention: does the cleaner delete finished tasks as fast as a worker finishes them?

A drain of N no-op tasks (``drain.jobbers``, its correctness checks included) leaves N
completed tasks; the cleaner's retention step (``Cleaner.delete_expired``, retention 0, no
budget limit) then deletes them all, and is timed. Reported: the drain's tasks/s, the
deletions/s, and the sustained completion rate the default cleaner keeps up with: one pass
every 10 s (``--interval 10``) spending at most its 5 s budget on retention.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from jobbers.models.task import TaskStatus
from jobbers.runtime.cleaner import Cleaner, CleanerSettings
from jobbers.store.facade import StateManager

from . import drain

INTERVAL_S = 10.0  # the cleaner's --interval this figure is for


async def _delete_all(url: str, n: int) -> tuple[int, float]:
    """Run the retention step over everything finished; (deleted, seconds)."""
    state = StateManager.from_url(url)
    try:
        settings = CleanerSettings(retention_s=0, failed_retention_s=0, retention_budget_s=3600)
        cleaner = Cleaner(state, settings)
        started = time.perf_counter()
        deleted = await cleaner.delete_expired()
        elapsed = time.perf_counter() - started
        left = await state.redis.zcard(state.keys.status_index(TaskStatus.COMPLETED))
        if deleted != n or left:
            raise SystemExit(f"bench: retention deleted {deleted} of {n}, {left} left")
        return deleted, elapsed
    finally:
        await state.close()


def run(url: str, n: int, concurrency: int) -> dict[str, Any]:
    """One drain of ``n`` tasks, then one retention step over them; the figures."""
    drained = drain.jobbers(url, n, concurrency)
    deleted, elapsed = asyncio.run(_delete_all(url, n))
    delete_per_s = deleted / elapsed
    budget = CleanerSettings().retention_budget_s
    sustained = delete_per_s * min(budget, INTERVAL_S) / INTERVAL_S
    return {
        "drain_per_s": drained["drain_per_s"],
        "delete_per_s": delete_per_s,
        "delete_s": elapsed,
        "sustained_per_s": sustained,
        "budget_s": budget,
    }
