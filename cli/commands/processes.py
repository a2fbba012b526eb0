"""The long-running processes as subcommands, and ``jobbers top``.

``jobbers worker ...`` is ``jobbers_worker ...``: the arguments go untouched to the same
``main(argv)``, so options and ``--help`` are the process's own. Each import happens only
when its command runs (FastAPI and uvicorn for the manager, Textual for ``top``).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..exit_codes import ExitCode, UsageProblem


def manager(ctx: typer.Context) -> None:
    """Serve the HTTP API: MODULE [--host H] [--port P] (same as jobbers_manager)."""
    from jobbers.server.main import main

    main(ctx.args)


def worker(ctx: typer.Context) -> None:
    """Run a worker: MODULE [--role R] [--concurrency N] (same as jobbers_worker)."""
    from jobbers.runtime.worker_main import main

    main(ctx.args)


def scheduler(ctx: typer.Context) -> None:
    """Promote due retries and delayed tasks, fire schedules (same as jobbers_scheduler)."""
    from jobbers.runtime.scheduler import main

    main(ctx.args)


def cleaner(ctx: typer.Context) -> None:
    """Mark stalls, recover dead workers' tasks, apply retention: [--interval S]."""
    from jobbers.runtime.cleaner import main

    main(ctx.args)


def top(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option("--url", envvar="JOBBERS_URL", help="Manager URL", show_default=False),
    ] = None,
    refresh: Annotated[
        float, typer.Option("--refresh", "-r", min=0.5, help="Seconds between refreshes")
    ] = 1.0,
) -> None:
    """Watch queues, running tasks, workers and the DLQ live, and act on them (a TUI)."""
    from jobbers.api.client import DEFAULT_URL

    from ..session import command_url, fail

    try:
        url = command_url(ctx, url, "url")
    except UsageProblem as exc:
        raise fail(exc) from None

    try:
        from jobbers.tui.app import run
    except ModuleNotFoundError as exc:
        if exc.name not in ("jobbers.tui.app", "textual"):
            raise
        sys.stderr.write(f"error: jobbers top is not available: {exc.name} is not installed\n")
        raise typer.Exit(ExitCode.FAILURE) from None
    run(url or DEFAULT_URL, refresh)
