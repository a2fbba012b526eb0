"""Start-up time of the ``jobbers`` CLI, measured like hyperfine: warm-up, then timed runs.

Each command runs as a fresh process (the console script users type), ``--runs`` times after
``--warmup`` untimed runs; commands are interleaved run by run so background load hits them
alike. ``status``/``list`` go to a real manager on a private Redis started here, so they
include one HTTP round trip; ``status (manager down)`` is start-up plus a refused connection.

    .venv/bin/python bench/cli_startup.py [--runs 30] [--warmup 3]

Prints a Markdown table (min, median, mean, p90, max in milliseconds) for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobbers.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
JOBBERS = str(BIN / "jobbers")
PY = sys.executable
BARE_TYPER = (
    "import typer\napp = typer.Typer()\n@app.command()\ndef hello(name: str) -> None:\n"
    "    '''Say hello.'''\n@app.command()\ndef bye() -> None:\n    '''Say bye.'''\napp()"
)


def commands(url: str, task_id: str, dead: str) -> dict[str, list[str]]:
    """Label -> argv of every measured command."""
    return {
        "python -c pass (interpreter floor)": [PY, "-c", "pass"],
        "bare Typer app --help (Typer floor)": [PY, "-c", BARE_TYPER, "--help"],
        "python -c 'import jobbers' (core package)": [PY, "-c", "import jobbers"],
        "jobbers --version": [JOBBERS, "--version"],
        "jobbers --help": [JOBBERS, "--help"],
        "jobbers queues --help": [JOBBERS, "queues", "--help"],
        "jobbers status ID (manager down)": [JOBBERS, "status", task_id, "--url", dead],
        "jobbers status ID": [JOBBERS, "status", task_id, "--url", url],
        "jobbers list -q": [JOBBERS, "list", "-q", "--url", url],
    }


def measure(argvs: dict[str, list[str]], runs: int, warmup: int) -> dict[str, list[float]]:
    """Wall-clock milliseconds per command, interleaved run by run."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    times: dict[str, list[float]] = {label: [] for label in argvs}
    for i in range(warmup + runs):
        for label, argv in argvs.items():
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            if i >= warmup:
                times[label].append((time.perf_counter() - start) * 1000)
    return times


def start_manager(tmp: Path) -> tuple[RedisServer, subprocess.Popen[bytes], str]:
    """A private Redis and a manager on free ports; returns them and the manager URL."""
    redis = RedisServer(free_port(), tmp / "redis", appendonly=False).start()
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis.url}
    tasks = str(ROOT / "examples" / "tasks.py")
    manager = subprocess.Popen(
        [JOBBERS, "manager", tasks, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while subprocess.run([JOBBERS, "health", "--url", url], capture_output=True).returncode:
        if time.monotonic() > deadline or manager.poll() is not None:
            raise SystemExit("the manager did not start")
        time.sleep(0.1)
    return redis, manager, url


def main() -> None:
    """Run the benchmark and print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis, manager, url = start_manager(Path(tmp))
        try:
            submitted = subprocess.run(
                [JOBBERS, "submit", "greet", "-q", "--url", url], capture_output=True, text=True
            )
            task_id = submitted.stdout.strip()
            dead = f"http://127.0.0.1:{free_port()}"
            times = measure(commands(url, task_id, dead), args.runs, args.warmup)
        finally:
            manager.terminate()
            manager.wait(timeout=10)
            redis.stop()
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs"
    print(f"Machine: {machine}, Python {platform.python_version()}")
    print(f"Runs: {args.runs} per command after {args.warmup} warm-up runs, interleaved.\n")
    print("| command | min | median | mean | p90 | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, values in times.items():
        values.sort()
        p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
        row = [min(values), statistics.median(values), statistics.fmean(values), p90, max(values)]
        print(f"| `{label}` | " + " | ".join(f"{v:.0f}" for v in row) + " |")


if __name__ == "__main__":
    main()
