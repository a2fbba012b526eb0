"""HTTP submit: the manager's ``POST /submit-task`` beside a bare FastAPI endpoint.

Both servers run as uvicorn processes started the same way (``jobbers_manager`` for the
manager, ``uvicorn bench.bare_app:app`` for the yardstick, which validates the same body
into the same model and stores nothing) and take the same load in the same run: ``n``
single-task POSTs over 16 concurrent keep-alive connections from ``bench/http_load.py``.
Reported per server: requests/s, and server CPU per request (user + system from /proc,
over the whole load, so event loop, HTTP parsing, middlewares and logging all count).
Every manager run checks that exactly ``n`` tasks were stored.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from jobbers.dev.redis_server import free_port

from . import enqueue
from .common import proc_cpu_s, start_http, stop, sync_client
from .http_load import post_many

CLIENTS = 16
WARM_UP = 50
BODY = b'{"name":"bench_noop","parameters":{"n":1}}'


def start_bare() -> tuple[subprocess.Popen[bytes], str]:
    """The bare FastAPI endpoint on uvicorn, on a free port."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(port)]
    return start_http(argv, port, "the bare FastAPI app")


def _load(proc: subprocess.Popen[bytes], base: str, n: int) -> dict[str, float]:
    """``n`` POSTs of the body: requests/s and server CPU us per request."""
    asyncio.run(post_many(base, "/submit-task", [BODY] * WARM_UP, CLIENTS))
    cpu = proc_cpu_s(proc.pid)
    started = time.perf_counter()
    asyncio.run(post_many(base, "/submit-task", [BODY] * n, CLIENTS))
    elapsed = time.perf_counter() - started
    return {"per_s": n / elapsed, "cpu_us": (proc_cpu_s(proc.pid) - cpu) / n * 1e6}


def run(url: str, n: int) -> dict[str, dict[str, float]]:
    """One interleaved run: the bare endpoint, then the manager; their figures."""
    out: dict[str, dict[str, float]] = {}
    proc, base = start_bare()
    try:
        out["bare"] = _load(proc, base, n)
    finally:
        stop(proc)
    sync_client(url).flushdb()
    proc, base = enqueue.start_manager(url)
    try:
        out["manager"] = _load(proc, base, n)
    finally:
        stop(proc)
    enqueue.check_stored(url, WARM_UP + n)
    return out
