"""Real jobbers processes for a test: workers, schedulers and cleaners as subprocesses."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from jobbers.models.task import Task
from jobbers.store.facade import StateManager
from tests.conftest import TASKS_MODULE, eventually, spawn, wait_status

FAST = {"JOBBERS_WORKER_LEASE_MS": "1500", "JOBBERS_LOG_LEVEL": "INFO"}


class Procs:
    """Processes started by a test; all are killed at the end, whatever happened."""

    def __init__(self, url: str, logdir: Path) -> None:
        self.url, self.logdir, self.procs = url, logdir, []  # type: ignore[var-annotated]

    def worker(
        self, role: str = "default", concurrency: int = 10, **env: str
    ) -> subprocess.Popen[bytes]:
        args = ["-m", "jobbers.runtime.worker_main", TASKS_MODULE]
        env = {**FAST, "WORKER_ROLE": role, "WORKER_CONCURRENT_TASKS": str(concurrency), **env}
        return self._spawn(args, env, "worker")

    def scheduler(self) -> subprocess.Popen[bytes]:
        return self._spawn(["-m", "jobbers.runtime.scheduler"], FAST, "scheduler")

    def cleaner(self, interval: float = 0.5) -> subprocess.Popen[bytes]:
        return self._spawn(
            ["-m", "jobbers.runtime.cleaner", "--interval", str(interval)], FAST, "cleaner"
        )

    def _spawn(self, args: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        proc = spawn(args, self.url, env, self.logdir / f"{name}-{len(self.procs)}.log")
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logdir.glob("*.log")))

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


async def live_workers(state: StateManager, n: int) -> list[Any]:
    async def check() -> list[Any]:
        workers = [w for w in await state.workers() if w.alive]
        return workers if len(workers) >= n else []

    workers: list[Any] = await eventually(check, within=15, what=f"{n} live workers")
    return workers


async def running_alone(
    state: StateManager, procs: Procs, name: str, mark: str, **parameters: Any
) -> tuple[subprocess.Popen[bytes], Task]:
    """One live worker, running a task ``name`` (one of the sample tasks that count their
    starts under their ``mark``): returns once the task's body runs, not just once it is
    claimed. ``started`` is written by the claim; a stop signal before the body runs hands
    the task back, so the tests that signal the worker wait for the body itself."""
    worker = procs.worker()
    await live_workers(state, 1)
    task = await state.submit_task(Task(name=name, parameters={"mark": mark, **parameters}))
    await wait_status(state, task.id, "started")
    await eventually(lambda: state.redis.get(f"test:started:{mark}"), what=f"{mark} to run")
    return worker, task


async def wait_exit(proc: subprocess.Popen[bytes], within: float = 15) -> int:
    await eventually(lambda: proc.poll() is not None, within=within, what="process exit")
    return proc.returncode


# ---------------------------------------------------------------- fault suite (tests/faults)


class RunLog:
    """The file the ``counted`` sample task appends its runs to: counts outside Redis."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    @property
    def env(self) -> dict[str, str]:
        """The environment a worker needs to write this log."""
        from tests.sample_tasks import RUN_LOG_ENV

        return {RUN_LOG_ENV: str(self.path)}

    def events(self) -> list[tuple[str, str, str, int]]:
        """(task id, start|end, run id, pid) per line."""
        out = []
        for line in self.path.read_text().splitlines():
            tid, tag, run_id, pid = line.split()
            out.append((tid, tag, run_id, int(pid)))
        return out

    def count(self, tag: str = "start") -> dict[str, int]:
        """Task id -> how many runs logged ``tag``."""
        counts: dict[str, int] = {}
        for tid, kind, _, _ in self.events():
            if kind == tag:
                counts[tid] = counts.get(tid, 0) + 1
        return counts


def worker_with(
    procs: Procs, env: dict[str, str], role: str = "default", concurrency: int = 10
) -> subprocess.Popen[bytes]:
    """A worker subprocess with extra environment (a dict, so the types stay checked)."""
    args = ["-m", "jobbers.runtime.worker_main", TASKS_MODULE]
    full = {**FAST, "WORKER_ROLE": role, "WORKER_CONCURRENT_TASKS": str(concurrency), **env}
    return procs._spawn(args, full, "worker")


def cleaner_with(procs: Procs, interval: float, **env: str) -> subprocess.Popen[bytes]:
    """A cleaner subprocess with extra environment (e.g. JOBBERS_MAX_RECOVERIES)."""
    args = ["-m", "jobbers.runtime.cleaner", "--interval", str(interval)]
    return procs._spawn(args, {**FAST, **env}, "cleaner")


def figure(name: str, value: float, unit: str = "s") -> None:
    """Record a measured figure: printed, and appended to $JOBBERS_FIGURES when set."""
    import os

    line = f"FIGURE {name} = {value:.3f} {unit}"
    print(line)
    target = os.environ.get("JOBBERS_FIGURES")
    if target:
        with open(target, "a") as out:
            out.write(line + "\n")


# ---------------------------------------------------------------- fault suite, part B


async def fresh_counts(url: str) -> Any:
    """A client of the count DB where ``sample_tasks.tally`` runs record themselves, emptied.

    It is another DB of the same server, so what tasks record is independent of jobbers'
    records and leaves jobbers' keyspace alone.
    """
    from redis.asyncio import Redis

    from tests.sample_tasks import count_url

    client = Redis.from_url(count_url(url), decode_responses=True)
    await client.flushdb()
    return client


def keyspace(url: str) -> dict[bytes, tuple[bytes, bytes | None]]:
    """Every key of a small DB with its type and serialized value, to prove nothing changed.

    SCAN is fine here: a test DB holds a few dozen keys, and product code never scans.
    """
    from redis import Redis as SyncRedis

    client = SyncRedis.from_url(url)
    try:
        keys = list(client.scan_iter(count=1000))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.type(key)
            pipe.dump(key)
        replies = pipe.execute()
        return {key: (replies[2 * i], replies[2 * i + 1]) for i, key in enumerate(keys)}
    finally:
        client.close()


async def blocking_waits(state: StateManager) -> list[Any]:
    """The connections blocked in BZPOPMIN now (fetchers, schedulers), from CLIENT LIST."""
    return [
        c
        for c in await state.redis.client_list()
        if c.get("cmd") == "bzpopmin" and "b" in c.get("flags", "")
    ]


async def blocked_on_bzpopmin(state: StateManager, n: int = 1, within: float = 15) -> list[Any]:
    """Wait until at least ``n`` connections block in BZPOPMIN."""

    async def check() -> list[Any]:
        found = await blocking_waits(state)
        return found if len(found) >= n else []

    clients: list[Any] = await eventually(check, within=within, what=f"{n} blocked BZPOPMIN")
    return clients


async def inflight_keys(state: StateManager) -> list[str]:
    """Every ``inflight:*`` key, found by a scan: test code may look where workers do not."""
    pattern = f"{state.keys.prefix}inflight:*"
    return [str(key) async for key in state.redis.scan_iter(match=pattern)]
