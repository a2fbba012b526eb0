"""Drain: N no-op tasks already queued, one worker process at concurrency C, until all done.

Reported per system: tasks/s from the worker's spawn to the last completion (boot
included), steady-state tasks/s from the first start to the last completion, worker CPU
microseconds per task (from its registration to the end, so imports are excluded), and
Redis commands per task from an INFO commandstats delta (the driver's own polling commands
are ones the worker never sends, and are left out).

Each jobbers run is checked before its figures count: every task ``completed``, nothing
left in ``submitted``/``started``, the worker's in-flight set empty, its ``processed``
count, the per-minute counters and the ``all`` index all equal to N.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from jobbers.models.task import Task
from jobbers.store.facade import StateManager

from . import floor
from .common import (
    BLOCKING,
    SCRIPT_CALLS,
    commandstats,
    delta,
    proc_cpu_s,
    redis_cpu_s,
    spawn_worker,
    stop,
    sync_client,
    wait_until,
    waiting,
)

# Commands only the driver sends while a drain runs (the worker never does).
DRIVER_ONLY = {"zcount", "info", "config|resetstat", "llen", "client|setinfo", "hello"}


async def fill(
    url: str, n: int, name: str = "bench_noop", queue: str = "default", priorities: bool = False
) -> None:
    """Queue ``n`` tasks as fast as the API allows: batch submit when it exists.

    ``priorities``: the tasks are spread evenly over the ten priorities 0-9 (task i gets
    i % 10), so the claim reads ten waiting lists instead of one.
    """
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    submit_many = getattr(state, "submit_many", None)
    if submit_many is not None:
        for offset in range(0, n, 1000):
            count = min(1000, n - offset)
            if priorities:
                batch = [Task(name=name, queue=queue, priority=i % 10) for i in range(count)]
            else:
                batch = [Task(name=name, queue=queue) for _ in range(count)]
            await submit_many(batch)
    else:
        left = [n]

        async def caller() -> None:
            while left[0] > 0:
                left[0] -= 1
                await state.submit(Task(name=name, queue=queue))

        await asyncio.gather(*(caller() for _ in range(100)))
    await state.close()


def _per_task(cmds: dict[str, int], n: int) -> dict[str, float]:
    worker_cmds = {k: v for k, v in cmds.items() if k not in DRIVER_ONLY}
    return {
        "commands_per_task": sum(worker_cmds.values()) / n,
        "script_calls_per_task": sum(worker_cmds.get(k, 0) for k in SCRIPT_CALLS) / n,
        "blocking_waits_per_task": sum(worker_cmds.get(k, 0) for k in BLOCKING) / n,
    }


def _profiler(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the worker into a flame graph, when py-spy is installed."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("bench: --profile needs py-spy (pip install py-spy); not profiling", file=sys.stderr)
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [spy, "record", "--pid", str(pid), "--rate", "250", "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def jobbers(
    url: str, n: int, concurrency: int, profile: Path | None = None, priorities: bool = False
) -> dict[str, Any]:
    """One jobbers drain of ``n`` queued tasks; its figures, after the correctness checks.

    With ``profile``, py-spy samples the worker from its registration to the last
    completion and writes a flame graph (SVG) there; the figures of that run are slower.
    With ``priorities``, the tasks are spread over the ten priorities (``fill``).
    """
    r = sync_client(url)
    r.flushdb()
    asyncio.run(fill(url, n, priorities=priorities))
    keys = StateManager.from_url(url).keys
    assert waiting(r, keys) == n
    r.config_resetstat()
    before = commandstats(r)
    redis_cpu = redis_cpu_s(r)
    spawned = time.time()
    proc = spawn_worker(url, concurrency)
    try:
        wait_until(lambda: r.zcount(keys.workers, "-inf", "+inf") > 0, 60, "worker registration")
        cpu_ready = proc_cpu_s(proc.pid)
        spy = _profiler(proc.pid, profile) if profile else None
        done_key = keys.status_index("completed")
        wait_until(lambda: r.zcount(done_key, "-inf", "+inf") >= n, 600, "the drain", every=0.01)
        cpu_end = proc_cpu_s(proc.pid)
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            spy.wait(timeout=60)
        redis_cpu = redis_cpu_s(r) - redis_cpu
        cmds = delta(commandstats(r), before)
        [worker_id] = [str(w) for w in r.zrange(keys.workers, 0, -1)]
        processed = int(r.hget(keys.worker(worker_id), "processed") or 0)
        inflight = r.zcard(keys.inflight(worker_id))
    finally:
        stop(proc)
    first_id = str(r.zrange(keys.all_index(), 0, 0)[0])
    first_start_ms = int(r.hget(keys.task(first_id), "started_at") or 0)
    if priorities:
        # The first task submitted is of priority 0 and starts last: the first start is
        # among the first completions (no-op tasks end within a millisecond or so).
        pipe = r.pipeline(transaction=False)
        for tid in r.zrange(done_key, 0, 99):
            pipe.hget(keys.task(str(tid)), "started_at")
        first_start_ms = min(int(v) for v in pipe.execute() if v)
    last_ms = int(r.zrange(done_key, -1, -1, withscores=True)[0][1])
    minutes = range(first_start_ms // 60000, last_ms // 60000 + 1)
    counted = sum(int(r.hget(f"{keys.prefix}m:default:{m}", "completed") or 0) for m in minutes)
    problems = {
        "submitted left": waiting(r, keys),
        "started left": r.zcard(keys.status_index("started")),
        "failed": r.zcard(keys.status_index("failed")),
        "completed != n": r.zcard(done_key) - n,
        "all index != n": r.zcard(keys.all_index()) - n,
        "worker processed != n": processed - n,
        "in flight": inflight,
        "per-minute completed != n": counted - n,
    }
    bad = {k: v for k, v in problems.items() if v}
    if bad:
        raise SystemExit(f"bench: jobbers drain did not complete every task exactly: {bad}")
    return {
        "drain_per_s": n / (last_ms / 1000 - spawned),
        "steady_per_s": n / ((last_ms - first_start_ms) / 1000),
        "boot_s": first_start_ms / 1000 - spawned,
        "cpu_us_per_task": (cpu_end - cpu_ready) / n * 1e6,
        "redis_cpu_us_per_task": redis_cpu / n * 1e6,
        **_per_task(cmds, n),
        "commands": {k: round(v / n, 2) for k, v in sorted(cmds.items()) if k not in DRIVER_ONLY},
    }


def naive(url: str, n: int, concurrency: int, mode: str) -> dict[str, Any]:
    """One drain of the bare redis-py floor (``blmove`` or ``brpop``)."""
    r = sync_client(url)
    r.flushdb()
    asyncio.run(floor.enqueue(url, n, 100, mode))
    queue, processing, _ = floor.keys(mode)
    assert r.llen(queue) == n
    r.config_resetstat()
    before = commandstats(r)
    redis_cpu = redis_cpu_s(r)
    spawned = time.time()
    proc = floor.spawn(url, mode, concurrency, exit_after=n)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        result = json.loads(proc.stdout.readline())
        redis_cpu = redis_cpu_s(r) - redis_cpu
        cmds = delta(commandstats(r), before)
    finally:
        stop(proc)
    left = r.llen(queue) + r.llen(processing)
    if result["done"] != n or left:
        raise SystemExit(f"bench: floor {mode} drain: {result['done']} done, {left} left")
    return {
        "drain_per_s": n / (result["last"] - spawned),
        "steady_per_s": n / (result["last"] - result["first"]),
        "boot_s": result["first"] - spawned,
        "cpu_us_per_task": (result["cpu"] - ready["cpu"]) / n * 1e6,
        "redis_cpu_us_per_task": redis_cpu / n * 1e6,
        **_per_task(cmds, n),
        "commands": {k: round(v / n, 2) for k, v in sorted(cmds.items()) if k not in DRIVER_ONLY},
    }
