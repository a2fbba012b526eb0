"""Start-up time of the ``jobbers`` CLI, measured like hyperfine: warm-up, then timed runs.

Each command runs as a fresh process (the console script users type), ``--runs`` times after
``--warmup`` untimed runs; commands are interleaved run by run so background load hits them
alike. The yardstick is a bare two-command Typer app's ``--help`` (``bench/bare_typer.py``),
timed in the same run; the ``x bare`` column is each command's median over its median
(issue 17 §5: every command at most 1.3x, ``jobbers --help`` at most 1.15x).

``status``, ``list``, ``stats`` and ``submit`` go to a real manager on a private Redis started
here, so they include their HTTP round trips; ``status --wait`` follows a completed task
(opens the event stream's first answer, reads the task); ``status (manager down)`` is
start-up plus a refused connection. ``(terminal)`` rows run with stdout on a
pseudo-terminal, where ``status`` draws a rich table; the others write to /dev/null (TSV).

``--cache-bytecode`` lets Python keep compiled bytecode (in a private temporary prefix) as an
installed package has it; by default the environment decides (PYTHONDONTWRITEBYTECODE=1 makes
every run compile jobbers' own modules again).

    .venv/bin/python bench/cli_startup.py [--runs 30] [--warmup 3] [--cache-bytecode]

Prints a Markdown table (min, median, mean, p90, max in milliseconds) for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import pty
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobbers.dev.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
JOBBERS = str(BIN / "jobbers")
PY = sys.executable
BARE_TYPER = str(ROOT / "bench" / "bare_typer.py")
BARE = "bare Typer app --help (yardstick)"
TASKS = str(ROOT / "examples" / "tasks.py")
HELP_GOAL, COMMAND_GOAL = 1.15, 1.3  # issue 17 §5, as multiples of the yardstick
FLOORS = ("python -c", BARE)  # rows that are not jobbers commands


TERMINAL = " (terminal)"


def commands(url: str, task_id: str, done_id: str, dead: str) -> dict[str, list[str]]:
    """Label -> argv of every measured command (labels ending in TERMINAL run on a pty).

    ``task_id`` waits on a queue no worker serves; ``done_id`` has completed.
    """
    status = [JOBBERS, "status", task_id, "--url", url]
    return {
        "python -c pass (interpreter floor)": [PY, "-c", "pass"],
        BARE: [PY, BARE_TYPER, "--help"],
        "python -c 'import jobbers' (core package)": [PY, "-c", "import jobbers"],
        "jobbers --version": [JOBBERS, "--version"],
        "jobbers --help": [JOBBERS, "--help"],
        "jobbers queues --help": [JOBBERS, "queues", "--help"],
        "jobbers status ID (manager down)": [JOBBERS, "status", task_id, "--url", dead],
        "jobbers status ID": status,
        "jobbers status ID --json": [*status, "--json"],
        "jobbers status ID" + TERMINAL: status,
        "jobbers status ID --wait (completed task)": [
            JOBBERS, "status", done_id, "--wait", "--url", url,
        ],
        "jobbers status ID --wait --timeout 0": [*status, "--wait", "--timeout", "0"],
        "jobbers list -q": [JOBBERS, "list", "-q", "--url", url],
        "jobbers stats": [JOBBERS, "stats", "--url", url],
        "jobbers submit NAME -q": [JOBBERS, "submit", "greet", "-q", "--url", url],
    }  # fmt: skip


def measure(
    argvs: dict[str, list[str]], runs: int, warmup: int, env: dict[str, str]
) -> dict[str, list[float]]:
    """Wall-clock milliseconds per command, interleaved run by run."""
    times: dict[str, list[float]] = {label: [] for label in argvs}
    for i in range(warmup + runs):
        for label, argv in argvs.items():
            start = time.perf_counter()
            if label.endswith(TERMINAL):
                on_terminal(argv, env)
            else:
                subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            if i >= warmup:
                times[label].append((time.perf_counter() - start) * 1000)
    return times


def on_terminal(argv: list[str], env: dict[str, str]) -> None:
    """Run ``argv`` with stdout on a pseudo-terminal, reading what it draws until it exits."""
    master, child_end = pty.openpty()
    proc = subprocess.Popen(argv, stdout=child_end, stderr=subprocess.DEVNULL, env=env)
    os.close(child_end)
    try:
        while os.read(master, 65536):
            pass
    except OSError:  # EIO: the child closed the terminal (it exited)
        pass
    finally:
        proc.wait()
        os.close(master)


def start_manager(tmp: Path) -> tuple[RedisServer, subprocess.Popen[bytes], str]:
    """A private Redis and a manager on free ports; returns them and the manager URL."""
    redis = RedisServer(free_port(), tmp / "redis", appendonly=False).start()
    port = free_port()
    manager = subprocess.Popen(
        [JOBBERS, "manager", TASKS, "--port", str(port)],
        env={**os.environ, "REDIS_URL": redis.url},
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


def submit(url: str, *args: str) -> str:
    """Submit ``greet`` and return its id."""
    argv = [JOBBERS, "submit", "greet", "-q", "--url", url, *args]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def completed_task(url: str, redis_url: str) -> str:
    """The id of a task a worker has completed; the worker is gone before timing starts."""
    task_id = submit(url)
    worker = subprocess.Popen(
        [JOBBERS, "worker", TASKS],
        env={**os.environ, "REDIS_URL": redis_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait = [JOBBERS, "status", task_id, "--wait", "--timeout", "60", "--url", url]
        subprocess.run(wait, capture_output=True, check=True)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return task_id


def main() -> None:
    """Run the benchmark and print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--cache-bytecode", action="store_true", help="keep compiled bytecode between runs"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
        if args.cache_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        redis, manager, url = start_manager(Path(tmp))
        try:
            done_id = completed_task(url, redis.url)
            task_id = submit(url)  # no worker left: it stays waiting
            dead = f"http://127.0.0.1:{free_port()}"
            times = measure(commands(url, task_id, done_id, dead), args.runs, args.warmup, env)
        finally:
            manager.terminate()
            manager.wait(timeout=10)
            redis.stop()
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs"
    load = " -> ".join(" ".join(f"{x:.2f}" for x in avg) for avg in (load_before, os.getloadavg()))
    bytecode = "cached" if args.cache_bytecode else "as the environment says"
    print(f"Machine: {machine}, Python {platform.python_version()}")
    print(f"Runs: {args.runs} per command after {args.warmup} warm-up runs, interleaved.")
    print(f"Load average (1, 5, 15 min) before -> after: {load}. Bytecode: {bytecode}.\n")
    bare = statistics.median(times[BARE])
    print("| command | min | median | mean | p90 | max | x bare | goal |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for label, values in times.items():
        values.sort()
        p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
        row = [min(values), statistics.median(values), statistics.fmean(values), p90, max(values)]
        ratio = row[1] / bare
        goal = goal_of(label)
        verdict = "" if goal is None else f"<= {goal}x " + ("met" if ratio <= goal else "MISSED")
        cells = " | ".join(f"{v:.0f}" for v in row)
        print(f"| `{label}` | {cells} | {ratio:.2f} | {verdict} |")


def goal_of(label: str) -> float | None:
    """The issue's limit for a row, as a multiple of the yardstick (None: not a jobbers row)."""
    if label.startswith(FLOORS):
        return None
    return HELP_GOAL if label == "jobbers --help" else COMMAND_GOAL


if __name__ == "__main__":
    main()
