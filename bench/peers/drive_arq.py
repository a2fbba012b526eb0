"""Enqueue n jobs, run an arq worker (max_jobs=32, burst), time the drain."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import wait_count

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
    t0 = time.perf_counter()
    for _ in range(n):
        await pool.enqueue_job("count")
    rate = n / (time.perf_counter() - t0)
    await pool.aclose()
    return rate


n = int(sys.argv[1])
rate = asyncio.run(enqueue(n))
proc = subprocess.Popen(
    [sys.executable, "-c", WORKER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
)
try:
    first, last = wait_count(URL, n)
finally:
    proc.terminate()
    proc.wait()
print(f"enqueue_per_s={rate:.0f} drain_per_s={n / (last - first):.0f}")
