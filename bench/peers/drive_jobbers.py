"""Enqueue n tasks through StateManager.submit, run one jobbers_worker (32), time the drain."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import enqueue_rate, main

from jobbers.models.task import Task
from jobbers.store.facade import StateManager

URL = os.environ["BENCH_REDIS_URL"]


async def enqueue(n: int) -> float:
    state = StateManager.from_url(URL)
    await state.ensure_defaults()
    rate = await enqueue_rate(n, lambda: state.submit(Task(name="count")))
    await state.close()
    return rate


env = {
    **os.environ,
    "REDIS_URL": URL,
    "WORKER_CONCURRENT_TASKS": "32",
    "JOBBERS_LOG_LEVEL": "WARNING",
}
tasks = os.path.join(os.path.dirname(__file__), "jobbers_tasks.py")
main(enqueue, [sys.executable, "-m", "jobbers.runtime.worker_main", tasks], URL, env=env)
