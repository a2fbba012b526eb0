"""The ``jobbers`` command: every manager endpoint, the processes, ``dev`` and ``top``.

The root is a lazy group, click's documented pattern for lazily loaded subcommands: the
table below names each command's module, panel and one-line help, and a command module is
imported (and its Typer command built) only when that command runs or draws its own help.
``jobbers --help`` and shell completion of command names read the table alone, so they load
Typer and nothing of jobbers; a command loads the client (httpx, pydantic models) when it
calls the manager, and FastAPI, uvicorn or Textual when it starts a process.
``tests/cli/test_layering.py`` holds the table to the commands' own docstrings and checks
what each path loads; ``bench/cli_startup.py`` times them against a bare Typer app.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
import typer.core
import typer.main

TASKS, SYSTEM, CONFIG, PROCESSES = "Tasks", "System", "Configuration", "Processes"
# The process commands hand their arguments untouched to the process's own parser.
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


@dataclass(frozen=True)
class Lazy:
    """Where a command lives and how the root help lists it, without importing it.

    ``target`` is ``module:attribute`` under ``jobbers.cli.commands``: a function (a
    command) or a ``typer.Typer`` (a group of subcommands). ``help`` is the first paragraph
    of its docstring (or of the group's help), as Typer would list it.
    """

    target: str
    panel: str
    help: str
    settings: dict[str, Any] = field(default_factory=dict)


_PROCESS = {"context_settings": PASS_THROUGH, "add_help_option": False}

# In the order ``jobbers --help`` lists them, panel by panel.
COMMANDS: dict[str, Lazy] = {
    "submit": Lazy(
        "tasks:submit",
        TASKS,
        "Submit a task (idempotent on --id); --wait follows it to the end; --at/--in delay it.",
    ),
    "submit-many": Lazy(
        "batch:submit_many",
        TASKS,
        "Submit many tasks from JSON Lines or a JSON array, 1,000 per request.",
    ),
    "status": Lazy(
        "tasks:status",
        TASKS,
        "Show a task: status, timings, parameters, results and error history.",
    ),
    "list": Lazy(
        "tasks:list_tasks",
        TASKS,
        "List tasks by status, queue and/or task name (waiting and running ones oldest first).",
    ),
    "cancel": Lazy(
        "tasks:cancel",
        TASKS,
        "Cancel tasks: waiting ones at once, running ones at their next await.",
    ),
    "retry": Lazy(
        "tasks:retry", TASKS, "Put failed, stalled or cancelled tasks back on their queues."
    ),
    "active": Lazy(
        "tasks:active", TASKS, "List running tasks with elapsed time, heartbeat age and progress."
    ),
    "scheduled": Lazy(
        "tasks:scheduled",
        TASKS,
        "List tasks waiting for a retry or their run time, soonest due first.",
    ),
    "events": Lazy(
        "events:events",
        TASKS,
        "Follow task status changes as they happen, one line each (Ctrl-C stops).",
    ),
    "dlq": Lazy("dlq:app", TASKS, "The dead-letter queue: browse, history, resubmit, delete."),
    "schedules": Lazy(
        "schedules:app", TASKS, "Schedules: cron or interval rules that submit a task at each tick."
    ),
    "workflow": Lazy(
        "workflows:app", TASKS, "Workflows: graphs of tasks that wait for each other."
    ),
    "stats": Lazy(
        "system:stats",
        SYSTEM,
        "Show per-queue depth, running, scheduled, DLQ and recent throughput.",
    ),
    "workers": Lazy(
        "system:workers",
        SYSTEM,
        "List live workers: role, queues, in-flight tasks, counters, last heartbeat.",
    ),
    "top": Lazy(
        "processes:top",
        SYSTEM,
        "Watch queues, running tasks, workers and the DLQ live, and act on them (a TUI).",
    ),
    "health": Lazy(
        "system:health",
        SYSTEM,
        "Check that the manager and its Redis answer (exit 1 if Redis is down).",
    ),
    "metrics": Lazy(
        "system:metrics", SYSTEM, "Print the manager's Prometheus metrics (text exposition format)."
    ),
    "version": Lazy(
        "system:version", SYSTEM, "Show the CLI's version (same as jobbers --version)."
    ),
    "queues": Lazy("queues:app", CONFIG, "Queues: limits, pause, resume and purge."),
    "roles": Lazy("roles:app", CONFIG, "Roles: which queues a worker of each role consumes."),
    "dev": Lazy(
        "dev:dev",
        PROCESSES,
        "Run Redis, the manager, a worker per role, scheduler and cleaner; Ctrl-C stops all.",
    ),
    "manager": Lazy(
        "processes:manager",
        PROCESSES,
        "Serve the HTTP API: MODULE [--host H] [--port P] (same as jobbers_manager).",
        _PROCESS,
    ),
    "worker": Lazy(
        "processes:worker",
        PROCESSES,
        "Run a worker: MODULE [--role R] [--concurrency N] (same as jobbers_worker).",
        _PROCESS,
    ),
    "scheduler": Lazy(
        "processes:scheduler",
        PROCESSES,
        "Promote due retries and delayed tasks, fire schedules (same as jobbers_scheduler).",
        _PROCESS,
    ),
    "cleaner": Lazy(
        "processes:cleaner",
        PROCESSES,
        "Mark stalls, recover dead workers' tasks, apply retention: [--interval S].",
        _PROCESS,
    ),
}


def load(name: str) -> typer.core.TyperCommand | typer.core.TyperGroup:
    """Import command ``name``'s module and build its click command, as Typer would."""
    lazy = COMMANDS[name]
    module, _, attribute = lazy.target.partition(":")
    found = getattr(importlib.import_module(f"{__package__}.commands.{module}"), attribute)
    if isinstance(found, typer.Typer):
        group = typer.main.get_group(found)
        group.name, group.rich_help_panel = name, lazy.panel
        return group
    single = typer.Typer(add_completion=False)
    single.command(name, rich_help_panel=lazy.panel, **lazy.settings)(found)
    command = typer.main.get_command(single)
    assert isinstance(command, typer.core.TyperCommand)
    return command


class ParsedOption(typer.core.TyperOption):
    """A group's option whose value is used as click parsed it, with no coercion by Typer.

    Typer (0.29) coerces every parameter it processes through a pydantic ``TypeAdapter``,
    built at the parameter's first use, for every type but a flag holding a bool; even a
    missing value builds it. A group's options are processed before its command, that
    command's ``--help`` included, and the groups here have only options that need no
    coercion: ``--url`` (the string given, or None), ``--version``, ``--help`` and
    completion's flags (a bool, or None). Coerced by Typer, they would make every command's
    help page import pydantic (about 50 ms).
    """

    def process_value(self, ctx: Any, value: Any) -> Any:
        """The parsed value, through the option's callback (``--version`` prints)."""
        return value if self.callback is None else self.callback(ctx, self, value)


class ParsedOptionsGroup(typer.core.TyperGroup):
    """A Typer group whose own options are ``ParsedOption``s: the root, and ``cls`` of the
    command modules' sub-apps (``queues``, ``dlq`` ...). Their commands' options are Typer's.
    """

    def get_params(self, ctx: Any) -> list[Any]:
        """The group's options (``--help`` and completion's among them) as ``ParsedOption``s."""
        params: list[Any] = super().get_params(ctx)
        for param in params:
            if type(param) is typer.core.TyperOption:
                param.__class__ = ParsedOption  # the same option, without Typer's coercion
        return params


class LazyGroup(ParsedOptionsGroup):
    """The root group: commands from ``COMMANDS``, each imported when it is resolved.

    While the group lists its commands (its help page, completion of a command name) it
    hands out stand-ins that carry only the name, panel and help from the table.
    """

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        """The command names, in the table's order."""
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name``: a stand-in while listing, else the real one (imported)."""
        if cmd_name not in COMMANDS:
            return None
        if self._listing:
            lazy = COMMANDS[cmd_name]
            stand_in = typer.core.TyperCommand(
                cmd_name, help=lazy.help, rich_help_panel=lazy.panel, add_help_option=False
            )
            return stand_in
        return load(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Resolve as Typer does, with its "Did you mean" taken from the table.

        Typer suggests close names from ``self.commands``, which a lazy group leaves empty.
        """
        try:
            return super().resolve_command(ctx, args)
        except typer.TyperException as error:
            message = getattr(error, "message", None)
            matches = difflib.get_close_matches(args[0], list(COMMANDS)) if args else []
            if self.suggest_commands and isinstance(message, str) and matches:
                names = ", ".join(repr(m) for m in matches)
                error.message = f"{message.rstrip('.')}. Did you mean {names}?"
            raise

    @contextlib.contextmanager
    def listing(self) -> Iterator[None]:
        """Within the block, ``get_command`` answers from the table without importing."""
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The root help page, drawn by Typer from the table."""
        with self.listing():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        """Complete command names (and the root's options) from the table."""
        with self.listing():
            return super().shell_complete(ctx, incomplete)


def _no_flag_types() -> None:
    """Show no ``<bool>`` beside flags in help pages: a flag takes no value to describe.

    Typer (0.2x) labels every option with its type, flags included; options that take a
    value keep their label.
    """
    original = typer.core.TyperOption.display_type_rich

    def display_type_rich(self: typer.core.TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else original(self, ctx)

    typer.core.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_no_flag_types()

app = typer.Typer(
    name="jobbers",
    cls=LazyGroup,
    help="Operate jobbers, the Redis task queue for asyncio, from the terminal.\n\n"
    "Talks to the manager at --url or JOBBERS_URL (default http://127.0.0.1:8000), with "
    "JOBBERS_API_TOKEN when set. Exit status: 0 ok, 1 failed, 2 usage, 3 not found, "
    "4 conflict, 5 manager unreachable, 6 waited-for task did not complete, 7 still running "
    "when --timeout passed, 8 declined at a confirmation. A confirmation needs --yes when "
    "stdin is not a terminal.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


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
    from .session import config_of  # every command loads it; the help page need not

    config_of(ctx).url = url


def main() -> None:
    """Run the Typer app as Typer would (the console script runs ``main.main``)."""
    app(prog_name="jobbers")
