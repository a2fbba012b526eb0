"""Workflows (issue 16): hand-off along a chain, and a fan-in's delay after a fan-out.

* chain: one workflow of N ``bench_stamp`` steps, each depending on the one before; the
  body's first act reads ``time.time_ns()``, so start(i+1) - start(i) is the hand-off of
  one step (its finish script releasing the next, the wake-up, the claim, the start), the
  body itself being empty. Reported as p50/p99 over the steps.
* fan-out/fan-in: one root, N-2 children of it and one task depending on every child;
  the fan-in's delay is its start minus the last child's start (an empty body).
* the same run's floor: submit -> start of a plain jobbers task and of the naive BLMOVE
  queue (``bench/floor.py``), sampled in turns on the same idle workers (``latency``).
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
from typing import Any

from redis.asyncio import Redis

from jobbers.models.task import TaskStatus
from jobbers.models.workflow import WorkflowRequest, WorkflowStatus
from jobbers.store.facade import StateManager
from jobbers.store.workflows import Workflows

from . import floor, latency
from .common import percentile, spawn_worker, stop, sync_client, wait_until


async def _finished(flows: Workflows, wid: str, within: float) -> None:
    deadline = time.monotonic() + within
    while (await flows.get(wid)).status is WorkflowStatus.RUNNING:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: workflow {wid} did not finish in {within:.0f} s")
        await asyncio.sleep(0.05)


async def _starts(state: StateManager, ids: list[str]) -> list[int]:
    tasks = {str(t.id): t for t in await state.get_tasks(ids)}
    out = []
    for tid in ids:
        task = tasks[tid]
        assert task.status is TaskStatus.COMPLETED and task.results is not None, tid
        out.append(int(task.results["t"]))
    return out


async def _measure(url: str, steps: int, fanout: int, samples: int) -> dict[str, Any]:
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    client = Redis.from_url(url, decode_responses=True)
    flows = Workflows(state)
    try:
        plain, floor_ms = [], []
        for i in range(samples + latency.WARMUP):
            start, _ = await latency._jobbers_sample(state)
            base = await latency._floor_sample(client, "blmove")
            if i >= latency.WARMUP:
                plain.append(start)
                floor_ms.append(base)
            await asyncio.sleep(0.003)

        chain: list[dict[str, Any]] = [{"key": "s0", "name": "bench_stamp"}]
        chain += [
            {"key": f"s{i}", "name": "bench_stamp", "depends_on": [f"s{i - 1}"]}
            for i in range(1, steps)
        ]
        began = time.monotonic()
        sent, _ = await flows.submit(WorkflowRequest.model_validate({"tasks": chain}))
        await _finished(flows, sent.id, 30 + steps * 0.05)
        chain_s = time.monotonic() - began
        starts = await _starts(state, [sent.tasks[f"s{i}"] for i in range(steps)])
        handoffs = [(b - a) / 1e6 for a, b in itertools.pairwise(starts)]

        kids = [f"c{i}" for i in range(fanout - 2)]
        graph: list[dict[str, Any]] = [{"key": "root", "name": "bench_stamp"}]
        graph += [{"key": k, "name": "bench_stamp", "depends_on": ["root"]} for k in kids]
        graph += [{"key": "join", "name": "bench_stamp", "depends_on": kids}]
        began = time.monotonic()
        sent, _ = await flows.submit(WorkflowRequest.model_validate({"tasks": graph}))
        await _finished(flows, sent.id, 60 + fanout * 0.05)
        fan_s = time.monotonic() - began
        child_starts = await _starts(state, [sent.tasks[k] for k in kids])
        (join_start,) = await _starts(state, [sent.tasks["join"]])
        return {
            "plain_p50_ms": percentile(plain, 50),
            "floor_p50_ms": percentile(floor_ms, 50),
            "floor_p99_ms": percentile(floor_ms, 99),
            "handoff_p50_ms": percentile(handoffs, 50),
            "handoff_p99_ms": percentile(handoffs, 99),
            "chain_s": chain_s,
            "steps": steps,
            "fan_in_delay_ms": (join_start - max(child_starts)) / 1e6,
            "fan_s": fan_s,
            "fanout": fanout - 2,
        }
    finally:
        await state.close()
        await client.aclose()


def run(url: str, steps: int, fanout: int, samples: int, concurrency: int) -> dict[str, Any]:
    """The chain and fan-in figures beside the same run's plain and floor submit -> start."""
    r = sync_client(url)
    r.flushdb()
    procs: list[subprocess.Popen[Any]] = [spawn_worker(url, concurrency)]
    try:
        proc = floor.spawn(url, "blmove", concurrency)
        procs.append(proc)
        assert proc.stdout is not None
        proc.stdout.readline()  # ready
        workers = StateManager.from_url(url).keys.workers
        wait_until(lambda: r.zcard(workers) > 0, 60, "worker registration")
        return asyncio.run(_measure(url, steps, fanout, samples))
    finally:
        for p in procs:
            stop(p)
