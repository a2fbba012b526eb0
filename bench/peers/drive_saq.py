"""Enqueue n jobs, run a SAQ worker (concurrency 32), time the drain."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import enqueue_rate, main

URL = os.environ["BENCH_REDIS_URL"]

WORKER = """
import asyncio, os
from saq import Queue, Worker

queue = Queue.from_url(os.environ['BENCH_REDIS_URL'])

async def count(ctx):
    await queue.redis.incr('bench:done')

async def main():
    worker = Worker(queue, functions=[count], concurrency=32)
    await worker.start()

asyncio.run(main())
"""


async def enqueue(n: int) -> float:
    from saq import Queue

    queue = Queue.from_url(URL)
    await queue.connect()
    rate = await enqueue_rate(n, lambda: queue.enqueue("count"))
    await queue.disconnect()
    return rate


main(enqueue, [sys.executable, "-c", WORKER], URL)
