"""Enqueue n jobs, run an arq worker (max_jobs=32, burst), time the drain."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import enqueue_rate, main

URL = os.environ["BENCH_REDIS_URL"]

WORKER = """
import os
from arq.connections import RedisSettings
from arq.worker import run_worker

async def count(ctx):
    await ctx['redis'].incr('bench:done')

class Settings:
    functions = [count]
    redis_settings = RedisSettings.from_dsn(os.environ['BENCH_REDIS_URL'])
    max_jobs = 32
    burst = True
    keep_result = 0

run_worker(Settings)
"""


async def enqueue(n: int) -> float:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(URL))
    rate = await enqueue_rate(n, lambda: pool.enqueue_job("count"))
    await pool.aclose()
    return rate


main(enqueue, [sys.executable, "-c", WORKER], URL)
