"""Run jobbers and its peers on the same private Redis, interleaved, and print medians.

.venv/bin/python bench/peers/run.py --peers-python /tmp/peers/bin/python [--tasks N] [--runs R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from jobbers.dev.redis_server import RedisServer, free_port

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peers-python", required=True)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--systems", default="jobbers,dramatiq,saq,arq")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(free_port(), Path(tmp), appendonly=False).start()
        try:
            for _ in range(args.runs):
                for system in args.systems.split(","):
                    python = sys.executable if system == "jobbers" else args.peers_python
                    subprocess.run(
                        [
                            python,
                            "-c",
                            f"import redis; redis.Redis.from_url({server.url!r}).flushdb()",
                        ],
                        check=True,
                    )
                    out = (
                        subprocess.run(
                            [python, str(HERE / f"drive_{system}.py"), str(args.tasks)],
                            env={**os.environ, "BENCH_REDIS_URL": server.url},
                            capture_output=True,
                            text=True,
                            check=True,
                        )
                        .stdout.strip()
                        .splitlines()[-1]
                    )
                    row = {k: float(v) for k, v in (p.split("=") for p in out.split())}
                    results.setdefault(system, []).append(row)
                    print(system, row, flush=True)
        finally:
            server.stop()
    print(f"\n{'system':10s} {'drain/s':>9s} {'enqueue/s':>10s}   (medians of {args.runs})")
    for system, rows in results.items():
        drain = statistics.median(r["drain_per_s"] for r in rows)
        enqueue = statistics.median(r["enqueue_per_s"] for r in rows)
        print(f"{system:10s} {drain:9.0f} {enqueue:10.0f}")


if __name__ == "__main__":
    main()
