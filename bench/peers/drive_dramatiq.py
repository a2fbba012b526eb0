"""Enqueue n messages, start `dramatiq` with 1 process x 32 threads, time the drain."""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import drain
from dramatiq_tasks import count

n = int(sys.argv[1])
t0 = time.perf_counter()
for _ in range(n):
    count.send()
enqueue = n / (time.perf_counter() - t0)
drain(
    [sys.executable, "-m", "dramatiq", "dramatiq_tasks", "--processes", "1", "--threads", "32"],
    os.environ["BENCH_REDIS_URL"],
    n,
    enqueue,
    cwd=os.path.dirname(__file__),
)
