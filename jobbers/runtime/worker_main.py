"""``jobbers_worker MODULE``: run a worker for the role in WORKER_ROLE."""

from __future__ import annotations

import asyncio
import signal
import sys

from jobbers.errors import TaskDefinitionError
from jobbers.registry import load_tasks_module
from jobbers.runtime.process import run_process, setup_logging, state_from_env
from jobbers.runtime.settings import WorkerEnv, process_parser, read_env
from jobbers.runtime.worker import Worker, WorkerCrashed, WorkerSettings, new_worker_id
from jobbers.store.runs import connection_name


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``jobbers_worker``."""
    parser = process_parser(
        "jobbers_worker",
        "Run tasks from the queues of WORKER_ROLE (default: default).",
        WorkerEnv,
    )
    parser.add_argument("module", help="tasks module: a dotted path (myapp.tasks) or a .py file")
    parser.add_argument("--role", help="overrides WORKER_ROLE")
    parser.add_argument("--concurrency", type=int, help="overrides WORKER_CONCURRENT_TASKS")
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="serve this worker's Prometheus metrics on this port (WORKER_METRICS_PORT)",
    )
    args = parser.parse_args(argv)
    env = read_env(WorkerEnv, "jobbers_worker")
    setup_logging("worker", env)
    try:
        load_tasks_module(args.module)
    except TaskDefinitionError as exc:
        print(f"jobbers_worker: {exc}", file=sys.stderr)  # noqa: T201
        sys.exit(2)
    settings = WorkerSettings.from_env(env)
    if args.role:
        settings.role = args.role
    if args.concurrency:
        settings.concurrency = args.concurrency
    if settings.concurrency < 1:
        print("jobbers_worker: concurrency must be at least 1", file=sys.stderr)  # noqa: T201
        sys.exit(2)
    if settings.threads is not None and settings.threads < 1:
        print("jobbers_worker: WORKER_THREADS must be at least 1", file=sys.stderr)  # noqa: T201
        sys.exit(2)
    metrics_port = args.metrics_port or env.metrics_port
    if metrics_port:
        serve_metrics(metrics_port)
    # Every connection is named after the worker, so Redis itself shows when it is gone.
    worker_id = new_worker_id()
    state = state_from_env(env, client_name=connection_name(worker_id))
    worker = Worker(state, settings, worker_id)

    async def run() -> None:
        # SIGUSR1: the role was deleted (``jobbers dev`` follows roles); retire gracefully.
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, worker.request_retire)
        await worker.run()

    try:
        run_process(run, worker.request_shutdown)
    except WorkerCrashed as exc:
        print(f"jobbers_worker: {exc}; see the log above", file=sys.stderr)  # noqa: T201
        sys.exit(1)


def serve_metrics(port: int) -> None:
    """Count every run in a hook and serve the counts; imported only when asked for."""
    from jobbers import hooks
    from jobbers.runtime.metrics import WorkerMetrics

    metrics = WorkerMetrics()
    try:
        metrics.serve(port)
    except OSError as exc:
        print(f"jobbers_worker: cannot serve metrics on port {port}: {exc}", file=sys.stderr)  # noqa: T201
        sys.exit(2)
    hooks.add(metrics)


if __name__ == "__main__":
    main()
