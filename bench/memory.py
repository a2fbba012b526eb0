"""Memory: Redis ``used_memory`` per task, as a delta, with a breakdown by key kind.

The baseline is read after the scripts are loaded and the default queue exists, over a
fresh connection (a pool's buffers are client memory, not task memory); the figure after
enqueue is read the same way. "Queued" is N tasks waiting; "completed" is the same N after
a worker ran them, kept for inspection (results, timestamps, indexes) until retention.

The breakdown uses ``MEMORY USAGE`` (median over sampled tasks for per-task keys; a sorted
set's total divided by its members for the indexes). What the sum leaves out is the
keyspace's own table and allocator rounding.
"""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

from jobbers.store.facade import StateManager
from jobbers.store.scripts import SCRIPT_NAMES, script_source

from . import floor
from .common import flush_sync, spawn_worker, stop, sync_client, used_memory, wait_until
from .drain import fill

SAMPLES = 200


def _per_task_keys(url: str, kinds: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Median MEMORY USAGE of each per-task key kind (suffix -> label), with its encoding."""
    r = sync_client(url)
    keys = StateManager.from_url(url).keys
    ids = [str(i) for i in r.zrandmember(keys.all_index(), SAMPLES) or []]
    out: dict[str, dict[str, Any]] = {}
    for suffix, label in kinds.items():
        sizes = [r.memory_usage(keys.task(tid) + suffix, samples=0) or 0 for tid in ids]
        encoding = r.object("encoding", keys.task(ids[0]) + suffix) if ids else None
        out[label] = {"bytes": statistics.median(sizes), "encoding": encoding}
    return out


def _index_entries(url: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """Bytes per member of each shared key: sorted-set indexes, the compact tasks' hash and
    lists (whole key / its members)."""
    r = sync_client(url)
    prefix = StateManager.from_url(url).keys.prefix
    count = {"zset": r.zcard, "hash": r.hlen, "list": r.llen}
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        key = prefix + name
        kind = str(r.type(key))
        members = count[kind](key) if kind in count else 0
        size = r.memory_usage(key, samples=0) or 0
        label = "index" if kind == "zset" else kind
        out[f"{label} {name}"] = {
            "bytes": size / members if members else 0,
            "encoding": r.object("encoding", key) if members else None,
        }
    return out


def _baseline(url: str) -> int:
    flush_sync(url)
    r = sync_client(url)
    for name in SCRIPT_NAMES:
        r.script_load(script_source(name))
    asyncio.run(_ensure_defaults(url))
    return used_memory(url)


async def _ensure_defaults(url: str) -> None:
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    await state.close()


def jobbers(url: str, n: int, concurrency: int) -> dict[str, Any]:
    """Bytes per queued and per completed task, and what each key kind costs."""
    base = _baseline(url)
    asyncio.run(fill(url, n))
    queued = (used_memory(url) - base) / n
    # A fresh task waits compact: a record in `wait`, its id on the list of its queue and
    # type (lua/common.lua).
    queued_parts = _index_entries(url, ["wait", "wl:default:bench_noop@1"])
    r = sync_client(url)
    keys = StateManager.from_url(url).keys
    proc = spawn_worker(url, 32)
    try:
        done = keys.status_index("completed")
        wait_until(lambda: r.zcard(done) >= n, 600, "the drain", every=0.01)
    finally:
        stop(proc)
    completed = (used_memory(url) - base) / n
    completed_parts = {
        **_per_task_keys(url, {"": "task hash", ":p": "params string", ":r": "results string"}),
        **_index_entries(url, ["s:completed", "s:completed:default", "all", "all:default"]),
    }
    return {
        "queued_bytes": queued,
        "completed_bytes": completed,
        "queued_parts": queued_parts,
        "completed_parts": completed_parts,
    }


def naive(url: str, n: int) -> float:
    """Bytes per queued message of the bare floor (one list)."""
    flush_sync(url)
    base = used_memory(url)
    asyncio.run(floor.enqueue(url, n, 100))
    return (used_memory(url) - base) / n
