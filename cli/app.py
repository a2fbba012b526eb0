"""The ``jobbers`` command: every manager endpoint, the processes, ``dev`` and ``top``.

Importing this module loads Typer and the command modules only; each command imports the
client (httpx, pydantic), FastAPI, uvicorn or Textual when it runs. The console script
starts in ``main.py``, which answers ``--help``, ``--version`` and ``status`` without this
module and hands everything else to ``app`` (see ``bench/cli_startup.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .commands import (
    batch,
    dev,
    dlq,
    events,
    processes,
    queues,
    roles,
    schedules,
    system,
    tasks,
    workflows,
)
from .session import config_of


def _no_flag_types() -> None:
    """Show no ``<bool>`` beside flags in help pages: a flag takes no value to describe.

    Typer (0.2x) labels every option with its type, flags included; options that take a
    value keep their label.
    """
    import typer.core

    original = typer.core.TyperOption.display_type_rich

    def display_type_rich(self: typer.core.TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else original(self, ctx)

    typer.core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_no_flag_types()

app = typer.Typer(
    name="jobbers",
    help="Operate jobbers, the Redis task queue for asyncio, from the terminal.\n\n"
    "Talks to the manager at --url or JOBBERS_URL (default http://127.0.0.1:8000), with "
    "JOBBERS_API_TOKEN when set. Exit status: 0 ok, 1 failed, 2 usage, 3 not found, "
    "4 conflict, 5 manager unreachable, 6 waited-for task did not complete, 7 still running "
    "when --timeout passed, 8 declined at a confirmation. A confirmation needs --yes when "
    "stdin is not a terminal.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

TASKS, SYSTEM, CONFIG, PROCESSES = "Tasks", "System", "Configuration", "Processes"

app.command("submit", rich_help_panel=TASKS)(tasks.submit)
app.command("submit-many", rich_help_panel=TASKS)(batch.submit_many)
app.command("status", rich_help_panel=TASKS)(tasks.status)
app.command("list", rich_help_panel=TASKS)(tasks.list_tasks)
app.command("cancel", rich_help_panel=TASKS)(tasks.cancel)
app.command("retry", rich_help_panel=TASKS)(tasks.retry)
app.command("active", rich_help_panel=TASKS)(tasks.active)
app.command("scheduled", rich_help_panel=TASKS)(tasks.scheduled)
app.command("events", rich_help_panel=TASKS)(events.events)
app.add_typer(dlq.app, name="dlq", rich_help_panel=TASKS)
app.add_typer(schedules.app, name="schedules", rich_help_panel=TASKS)
app.add_typer(workflows.app, name="workflow", rich_help_panel=TASKS)

app.command("stats", rich_help_panel=SYSTEM)(system.stats)
app.command("workers", rich_help_panel=SYSTEM)(system.workers)
app.command("top", rich_help_panel=SYSTEM)(processes.top)
app.command("health", rich_help_panel=SYSTEM)(system.health)
app.command("metrics", rich_help_panel=SYSTEM)(system.metrics)
app.command("version", rich_help_panel=SYSTEM)(system.version)

app.add_typer(queues.app, name="queues", rich_help_panel=CONFIG)
app.add_typer(roles.app, name="roles", rich_help_panel=CONFIG)

app.command("dev", rich_help_panel=PROCESSES)(dev.dev)
for _name, _main in (
    ("manager", processes.manager),
    ("worker", processes.worker),
    ("scheduler", processes.scheduler),
    ("cleaner", processes.cleaner),
):
    app.command(
        _name,
        rich_help_panel=PROCESSES,
        context_settings=processes.PASS_THROUGH,
        add_help_option=False,
    )(_main)


def _version(value: bool) -> None:
    if value:
        from jobbers import __version__

        typer.echo(f"jobbers {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Manager URL, before the command or after it [default: JOBBERS_URL, "
            "else http://127.0.0.1:8000]",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version"),
    ] = None,
) -> None:
    """Operate jobbers from the terminal."""
    config_of(ctx).url = url


def main() -> None:
    """Run the Typer app alone, with no quick path (the console script runs ``main.main``)."""
    app(prog_name="jobbers")
