"""Scaling: drain throughput with 1, 2 and 4 worker processes on one Redis, and WAIT's cost.

Each worker count runs next to the same count of floor consumer processes (the bare
``BLMOVE``+``LREM`` queue of ``bench.floor``) in the same run. A drain is timed from the
moment the last process of the set is ready to the last completion, so the processes'
staggered start does not count; the tasks done before that moment are left out of every
per-task figure. Redis CPU per task comes from ``INFO cpu`` deltas and commands per task
from ``INFO commandstats`` deltas over the same window (the driver's polling included, a
few commands per millisecond of wall time). "One Redis core could serve N tasks/s" is a
projection: one second of CPU divided by the measured Redis CPU per task, which assumes
Redis stays the only bottleneck and its per-task cost stays flat as load grows.

The second section measures the opt-in ``JOBBERS_SUBMIT_REPLICAS=1``: submits from 16
concurrent callers to a master with one local replica, without and with ``WAIT``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from jobbers.dev.redis_server import RedisServer, free_port
from jobbers.store.facade import StateManager

from . import floor
from .common import commandstats, delta, redis_cpu_s, spawn_worker, stop, sync_client, wait_until
from .drain import DRIVER_ONLY, fill
from .enqueue import submit_rate

COUNTS = (1, 2, 4)
SUBMIT_CALLERS = 16


def _window(r: Any, done: Any, n: int, ready: Any, procs: list[Any]) -> dict[str, Any]:
    """Figures from the moment ``ready()`` holds to the moment ``done()`` reaches ``n``."""
    try:
        wait_until(ready, 120, "every process ready", every=0.005)
        r.config_resetstat()
        before, cpu, t0, d0 = commandstats(r), redis_cpu_s(r), time.monotonic(), done()
        wait_until(lambda: done() >= n, 600, "the drain", every=0.005)
        elapsed, cpu = time.monotonic() - t0, redis_cpu_s(r) - cpu
        cmds = delta(commandstats(r), before)
    finally:
        for proc in procs:
            stop(proc)
    counted = max(1, n - d0)
    per_task = sum(v for k, v in cmds.items() if k not in DRIVER_ONLY) / counted
    us = cpu / counted * 1e6
    return {
        "tasks_per_s": counted / elapsed,
        "redis_cpu_us_per_task": us,
        "commands_per_task": per_task,
        "redis_core_tasks_per_s": 1e6 / us if us else 0.0,
        "redis_cpu_share": cpu / elapsed,
        "commands": {
            k: round(v / counted, 2) for k, v in sorted(cmds.items()) if v >= counted / 100
        },
    }


def jobbers_drain(url: str, n: int, workers: int, concurrency: int) -> dict[str, Any]:
    """``n`` queued no-op tasks drained by ``workers`` jobbers_worker processes."""
    r = sync_client(url)
    r.flushdb()
    asyncio.run(fill(url, n))
    keys = StateManager.from_url(url).keys
    done_key = keys.status_index("completed")
    # Paused until every worker is up, so the first one to start does not drain it alone.
    asyncio.run(_pause(url, True))
    procs = [spawn_worker(url, concurrency) for _ in range(workers)]

    def ready() -> bool:
        if r.zcard(keys.workers) < workers:
            return False
        asyncio.run(_pause(url, False))
        return True

    # ZCOUNT, not ZCARD: the drain figures leave the driver-only commands out (DRIVER_ONLY).
    return _window(r, lambda: int(r.zcount(done_key, "-inf", "+inf")), n, ready, procs)


async def _pause(url: str, paused: bool) -> None:
    state = StateManager.from_url(url)
    await state.set_queue_paused("default", paused)
    await state.close()


def floor_drain(url: str, n: int, workers: int, concurrency: int) -> dict[str, Any]:
    """``n`` queued messages drained by ``workers`` floor consumer processes."""
    r = sync_client(url)
    r.flushdb()
    # Queued aside, then renamed onto the consumers' queue once every one of them waits
    # on it (RENAME wakes blocked clients): all start together, as the paused jobbers do.
    asyncio.run(floor.enqueue(url, n, 100, "brpop"))
    aside = floor.keys("brpop")[0]
    queue, processing, _ = floor.keys("blmove")
    procs = [floor.spawn(url, "blmove", concurrency) for _ in range(workers)]
    for proc in procs:
        assert proc.stdout is not None
        proc.stdout.readline()  # its ready mark: connected, about to consume

    def ready() -> bool:
        r.rename(aside, queue)
        return True

    return _window(r, lambda: n - int(r.llen(queue)) - int(r.llen(processing)), n, ready, procs)


def submit_cost(url: str, n: int) -> dict[str, float]:
    """Submit rate without and with WAIT for one replica (started here, then stopped)."""
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with tempfile.TemporaryDirectory(prefix="jobbers-bench-replica-") as tmp:
        args = ("--replicaof", "127.0.0.1", str(port))
        replica = RedisServer(free_port(), Path(tmp), appendonly=False, extra_args=args).start()
        try:
            r = sync_client(url)
            online = lambda: r.info("replication").get("slave0", {}).get("state") == "online"  # noqa: E731
            wait_until(online, 30, "the replica in sync", every=0.05)
            r.flushdb()
            plain = asyncio.run(submit_rate(url, n, SUBMIT_CALLERS, replicas=0))
            r.flushdb()
            waited = asyncio.run(submit_rate(url, n, SUBMIT_CALLERS, replicas=1))
        finally:
            replica.stop()
    return {"plain_per_s": plain, "wait_per_s": waited}


def part_scaling(url: str, args: argparse.Namespace, report: Any) -> None:
    """The scaling table and the cost of WAIT on submit (``bench/run.py`` part)."""
    n, conc = args.tasks, args.concurrency
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for count in COUNTS:
        rows[("floor", count)] = floor_drain(url, n, count, conc)
        rows[("jobbers", count)] = jobbers_drain(url, n, count, conc)
        print(
            f"bench: scaling {count} procs: "
            + json.dumps({k[0]: round(v["tasks_per_s"]) for k, v in rows.items() if k[1] == count}),
            flush=True,
        )
    lines = [
        f"N = {n:,} no-op tasks queued first; each process at concurrency {conc}; one run "
        "per row. Timed from the last process ready to the last completion.",
        "",
        "| processes | floor tasks/s | jobbers tasks/s | jobbers / floor | jobbers Redis CPU "
        "per task, us | jobbers commands per task | Redis busy share | projection: one "
        "Redis core, tasks/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for count in COUNTS:
        f, j = rows[("floor", count)], rows[("jobbers", count)]
        lines.append(
            f"| {count} | {f['tasks_per_s']:,.0f} | {j['tasks_per_s']:,.0f} | "
            f"{j['tasks_per_s'] / f['tasks_per_s']:.2f}x | {j['redis_cpu_us_per_task']:.1f} | "
            f"{j['commands_per_task']:.1f} | {j['redis_cpu_share']:.0%} | "
            f"{j['redis_core_tasks_per_s']:,.0f} |"
        )
    best = min(rows[("jobbers", c)]["redis_cpu_us_per_task"] for c in COUNTS)
    lines += [
        "",
        f"Projection, not a measurement: at {best:.1f} us of Redis CPU per task, one Redis "
        f"core could serve about {1e6 / best:,.0f} tasks/s if nothing else saturated first.",
        "",
        f"jobbers commands per task by command, {COUNTS[-1]} processes (at least 0.01): `"
        + json.dumps(rows[("jobbers", COUNTS[-1])]["commands"])
        + "`",
    ]
    report.section("Scaling: worker processes on one Redis", lines)
    cost = submit_cost(url, n)
    report.section(
        "Submit with WAIT for one replica (JOBBERS_SUBMIT_REPLICAS=1)",
        [
            f"{n:,} submits from {SUBMIT_CALLERS} concurrent callers, one local replica.",
            "",
            "| submits/s without WAIT | with WAIT 1 | cost |",
            "|---:|---:|---:|",
            f"| {cost['plain_per_s']:,.0f} | {cost['wait_per_s']:,.0f} | "
            f"{cost['plain_per_s'] / cost['wait_per_s']:.2f}x slower |",
        ],
    )
