"""The top-level ``jobbers --help`` page as data, for ``root_help.py`` to draw.

Generated from the Typer app by `python -m jobbers.cli.root_help`: do not edit.
"""

# ruff: noqa: E501
# fmt: off

USAGE = "jobbers [OPTIONS] COMMAND [ARGS]..."

HELP: tuple[str, ...] = (
    "Operate jobbers, the Redis task queue for asyncio, from the terminal.",
    "Talks to the manager at --url or JOBBERS_URL (default http://127.0.0.1:8000), with JOBBERS_API_TOKEN when set. Exit status: 0 ok, 1 failed, 2 usage, 3 not found, 4 conflict, 5 manager unreachable, 6 waited-for task did not complete, 7 still running when --timeout passed, 8 declined at a confirmation. A confirmation needs --yes when stdin is not a terminal.",
)

OPTIONS: tuple[tuple[str, str], ...] = (
    ("--url", "Manager URL, before the command or after it [default: JOBBERS_URL, else http://127.0.0.1:8000]"),
    ("--version", "Show the version"),
    ("--install-completion", "Install completion for the current shell."),
    ("--show-completion", "Show completion for the current shell, to copy it or customize the installation."),
    ("--help", "Show this message and exit."),
)

PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Tasks", (
        ("submit", "Submit a task (idempotent on --id); --wait follows it to the end; --at/--in delay it."),
        ("submit-many", "Submit many tasks from JSON Lines or a JSON array, 1,000 per request."),
        ("status", "Show a task: status, timings, parameters, results and error history."),
        ("list", "List tasks by status, queue and/or task name (waiting and running ones oldest first)."),
        ("cancel", "Cancel tasks: waiting ones at once, running ones at their next await."),
        ("retry", "Put failed, stalled or cancelled tasks back on their queues."),
        ("active", "List running tasks with elapsed time, heartbeat age and progress."),
        ("scheduled", "List tasks waiting for a retry or their run time, soonest due first."),
        ("events", "Follow task status changes as they happen, one line each (Ctrl-C stops)."),
        ("dlq", "The dead-letter queue: browse, history, resubmit, delete."),
        ("schedules", "Schedules: cron or interval rules that submit a task at each tick."),
        ("workflow", "Workflows: graphs of tasks that wait for each other."),
    )),
    ("System", (
        ("stats", "Show per-queue depth, running, scheduled, DLQ and recent throughput."),
        ("workers", "List live workers: role, queues, in-flight tasks, counters, last heartbeat."),
        ("top", "Watch queues, running tasks, workers and the DLQ live, and act on them (a TUI)."),
        ("health", "Check that the manager and its Redis answer (exit 1 if Redis is down)."),
        ("metrics", "Print the manager's Prometheus metrics (text exposition format)."),
        ("version", "Show the CLI's version (same as jobbers --version)."),
    )),
    ("Processes", (
        ("dev", "Run Redis, the manager, a worker per role, scheduler and cleaner; Ctrl-C stops all."),
        ("manager", "Serve the HTTP API: MODULE [--host H] [--port P] (same as jobbers_manager)."),
        ("worker", "Run a worker: MODULE [--role R] [--concurrency N] (same as jobbers_worker)."),
        ("scheduler", "Promote due retries and delayed tasks, fire schedules (same as jobbers_scheduler)."),
        ("cleaner", "Mark stalls, recover dead workers' tasks, apply retention: [--interval S]."),
    )),
    ("Configuration", (
        ("queues", "Queues: limits, pause, resume and purge."),
        ("roles", "Roles: which queues a worker of each role consumes."),
    )),
)
# fmt: on
