"""Enqueue n messages, start `dramatiq` with 1 process x 32 threads, time the drain."""

from __future__ import annotations

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import wait_count
from dramatiq_tasks import count

n = int(sys.argv[1])
t0 = time.perf_counter()
for _ in range(n):
    count.send()
enqueue = n / (time.perf_counter() - t0)
proc = subprocess.Popen(
    [sys.executable, "-m", "dramatiq", "dramatiq_tasks", "--processes", "1", "--threads", "32"],
    cwd=os.path.dirname(__file__),
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
try:
    first, last = wait_count(os.environ["BENCH_REDIS_URL"], n)
finally:
    proc.terminate()
    proc.wait()
print(f"enqueue_per_s={enqueue:.0f} drain_per_s={n / (last - first):.0f}")
