"""Latency: one task at a time to an idle worker, submit -> start of the task body.

The driver reads ``time.time_ns()`` just before it submits; the task body's first act is
to read the same clock (same machine), so the figure is sub-millisecond and includes the
submit round trip, the wake-up, the claim and the hand-off to the task.

The three systems (jobbers, the BLMOVE floor, the BRPOP floor) have a worker process each,
idle on the same Redis, and take turns sample by sample, so a burst of background load
hits them alike. Before each sample the driver waits for the previous task to finish plus
a short random pause, so every worker is back in its blocking wait; the first samples of
each are a warm-up.

jobbers also reports submit -> completed as the API shows it (``completed_at -
submitted_at`` of the task, on the Redis clock, millisecond resolution).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import statistics
import subprocess
import time
from typing import Any

from redis.asyncio import Redis

from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from jobbers.store.scripts import SCRIPT_NAMES, script_source

from . import floor
from .common import percentile, spawn_worker, stop, sync_client, wait_until

WARMUP = 10
MODES = ("blmove", "brpop")


def _summary(submit_start: list[float], **extra: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "p50_ms": percentile(submit_start, 50),
        "p99_ms": percentile(submit_start, 99),
        "max_ms": max(submit_start),
        "samples": len(submit_start),
    }
    for name, values in extra.items():
        out[f"{name}_p50_ms"] = percentile(values, 50)
        out[f"{name}_p99_ms"] = percentile(values, 99)
    return out


async def _jobbers_sample(state: StateManager) -> tuple[float, float]:
    """(submit -> start ms, submit -> completed ms from the API's timestamps)."""
    task = Task(name="bench_stamp")
    submitted = time.time_ns()
    await state.submit(task)
    key = state.keys.task(str(task.id))
    deadline = time.monotonic() + 30
    await asyncio.sleep(0.002)
    while await state.redis.hget(key, "status") != TaskStatus.COMPLETED:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: latency task {task.id} did not complete in 30 s")
        await asyncio.sleep(0.001)
    done = await state.get_task(task.id)
    assert done.results is not None and done.submitted_at and done.completed_at
    start = (int(done.results["t"]) - submitted) / 1e6
    return start, (done.completed_at - done.submitted_at).total_seconds() * 1000


async def _floor_sample(client: Redis, mode: str) -> float:
    queue, _, replies = floor.keys(mode)
    await client.lpush(queue, f"L{time.time_ns()}")
    reply = await client.blpop([replies], 30)
    if reply is None:
        raise SystemExit(f"bench: the {mode} floor worker did not answer in 30 s")
    return int(reply[1]) / 1e6


async def _redis_times(state: StateManager, client: Redis, samples: int) -> dict[str, float]:
    """Median server time per call on the path, in us, from samples taken after the others.

    Scripts from SLOWLOG (threshold 20 us, so the commands inside them, each a few us, are
    not logged and do not slow them down); the floor's commands from INFO commandstats.
    """
    names = {hashlib.sha1(script_source(n).encode()).hexdigest(): n for n in SCRIPT_NAMES}
    old = str((await client.config_get("slowlog-log-slower-than"))["slowlog-log-slower-than"])
    await client.config_set("slowlog-max-len", 100_000)
    await client.config_set("slowlog-log-slower-than", 20)
    await client.slowlog_reset()
    await client.config_resetstat()
    try:
        for _ in range(samples):
            await _jobbers_sample(state)
            await _floor_sample(client, "blmove")
            await asyncio.sleep(0.003)
        entries = await client.slowlog_get(100_000)
        stats = await client.info("commandstats")
    finally:
        await client.config_set("slowlog-log-slower-than", old)
    durations: dict[str, list[float]] = {}
    for entry in entries:
        command = entry["command"]
        words = (command.decode() if isinstance(command, bytes) else str(command)).split()
        on_path = ("submit", "claim", "finish")
        if len(words) > 1 and words[0].lower() == "evalsha" and names.get(words[1]) in on_path:
            durations.setdefault(f"{names[words[1]]}.lua", []).append(float(entry["duration"]))
    out = {name: statistics.median(v) for name, v in durations.items()}
    for command in ("lpush", "blmove", "lrem"):
        if f"cmdstat_{command}" in stats:
            out[f"floor {command.upper()}"] = float(stats[f"cmdstat_{command}"]["usec_per_call"])
    return out


async def _samples(url: str, samples: int) -> dict[str, dict[str, Any]]:
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    client = Redis.from_url(url, decode_responses=True)
    starts: dict[str, list[float]] = {"jobbers": [], **{m: [] for m in MODES}}
    completes: list[float] = []
    for i in range(samples + WARMUP):
        order = ["jobbers", *MODES]
        random.shuffle(order)
        for system in order:
            if system == "jobbers":
                start, complete = await _jobbers_sample(state)
                if i >= WARMUP:
                    completes.append(complete)
            else:
                start = await _floor_sample(client, system)
            if i >= WARMUP:
                starts[system].append(start)
            await asyncio.sleep(random.uniform(0.002, 0.005))
    redis_us = await _redis_times(state, client, 50)
    await state.close()
    await client.aclose()
    return {
        "jobbers": _summary(starts["jobbers"], completed=completes) | {"redis_us": redis_us},
        **{m: _summary(starts[m]) for m in MODES},
    }


def run(url: str, samples: int, concurrency: int) -> dict[str, dict[str, Any]]:
    """Percentiles per system ("jobbers", "blmove", "brpop"), sampled in turns."""
    r = sync_client(url)
    r.flushdb()
    procs: list[subprocess.Popen[Any]] = [spawn_worker(url, concurrency)]
    try:
        for mode in MODES:
            proc = floor.spawn(url, mode, concurrency)
            procs.append(proc)
            assert proc.stdout is not None
            proc.stdout.readline()  # ready
        workers = StateManager.from_url(url).keys.workers
        wait_until(lambda: r.zcard(workers) > 0, 60, "worker registration")
        return asyncio.run(_samples(url, samples))
    finally:
        for proc in procs:
            stop(proc)
