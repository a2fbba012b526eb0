"""``jobbers dev MODULE``: the whole system in one terminal (see ``cli/supervisor.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def dev(
    module: Annotated[
        str, typer.Argument(metavar="MODULE", help="Tasks module: a .py file or a dotted path")
    ],
    port: Annotated[int, typer.Option("--port", "-p", help="Manager port")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Manager bind address")] = "127.0.0.1",
    workers_per_role: Annotated[
        int, typer.Option("--workers-per-role", min=1, help="Worker processes per role")
    ] = 1,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the private Redis keeps its data")
    ] = Path(".jobbers/redis"),
    grace: Annotated[
        float, typer.Option("--grace", min=0, help="Seconds processes get to stop on Ctrl-C")
    ] = 10.0,
) -> None:
    """Run Redis, the manager, a worker per role, scheduler and cleaner; Ctrl-C stops all."""
    import asyncio

    from ..supervisor import DevOptions, Supervisor

    options = DevOptions(module, host, port, workers_per_role, data_dir, grace)
    raise typer.Exit(asyncio.run(Supervisor(options).run()))
