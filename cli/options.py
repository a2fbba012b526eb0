"""Arguments and options several commands share, declared once."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from jobbers.models.enums import TaskStatus

from .output import Mode

if TYPE_CHECKING:
    from .session import Session

T = TypeVar("T")


def _complete(kind: str, incomplete: str) -> list[str]:
    """Queue or role names from the manager for shell completion; nothing if it is down."""
    from jobbers.api.client import SyncJobbersClient

    try:
        with SyncJobbersClient(timeout=1.0) as client:
            if kind == "queues":
                names = [q.name for q in client.run(client.api.list_queues()).queues]
            elif kind == "schedules":
                names = [x.name for x in client.run(client.api.list_schedules()).schedules]
            else:
                names = [r.name for r in client.run(client.api.list_roles()).roles]
    except Exception:  # completion must never fail the shell
        return []
    return [n for n in names if n.startswith(incomplete)]


def complete_queue(incomplete: str) -> list[str]:
    """Shell completion of queue names."""
    return _complete("queues", incomplete)


def complete_role(incomplete: str) -> list[str]:
    """Shell completion of role names."""
    return _complete("roles", incomplete)


def complete_schedule(incomplete: str) -> list[str]:
    """Shell completion of schedule names (issue 15 §2)."""
    return _complete("schedules", incomplete)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items (the API takes 1000 ids per call)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def grouped_options(fn: Callable[..., None]) -> Callable[..., None]:
    """Let a command take a dataclass of options: its fields become the command's own options.

    Typer declares each option as a parameter of the command. Commands that share a set of
    options (``schedules create`` and ``update``) declare it once, as a dataclass whose
    fields are ``Annotated`` options with defaults; a parameter of ``fn`` typed with such a
    dataclass is laid out in the signature as its fields, in place and in order, and the
    options given are gathered back into it for the call. Goes under ``@api_command``.
    """
    hints = typing.get_type_hints(fn, include_extras=True)
    groups: dict[str, Any] = {}
    laid_out: list[inspect.Parameter] = []
    for param in inspect.signature(fn).parameters.values():
        kind = hints.get(param.name, param.annotation)
        if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
            laid_out.append(param.replace(annotation=kind))
            continue
        groups[param.name] = kind
        fields = typing.get_type_hints(kind, include_extras=True)
        laid_out += [
            param.replace(name=f.name, annotation=fields[f.name], default=f.default)
            for f in dataclasses.fields(kind)
        ]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        for name, kind in groups.items():
            kwargs[name] = kind(**{f.name: kwargs.pop(f.name) for f in dataclasses.fields(kind)})
        fn(*args, **kwargs)

    wrapper.__signature__ = inspect.Signature(laid_out)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in laid_out}
    return wrapper


TaskIdArg = Annotated[
    str, typer.Argument(metavar="ID", help="The task's id (a ULID)", show_default=False)
]
TaskIdsArg = Annotated[
    list[str],
    typer.Argument(
        metavar="ID", help="Task ids, or - to read them (whitespace-separated) from stdin"
    ),
]
OptionalIdsArg = Annotated[
    list[str] | None,
    typer.Argument(metavar="ID", help="Task ids, or - for stdin; or use the filters"),
]
QueueArg = Annotated[
    str,
    typer.Argument(
        metavar="QUEUE", help="Queue name", autocompletion=complete_queue, show_default=False
    ),
]
RoleArg = Annotated[
    str,
    typer.Argument(
        metavar="ROLE", help="Role name", autocompletion=complete_role, show_default=False
    ),
]
ScheduleArg = Annotated[
    str,
    typer.Argument(
        metavar="SCHEDULE",
        help="Schedule name",
        autocompletion=complete_schedule,
        show_default=False,
    ),
]
QueueFilter = Annotated[
    str | None,
    typer.Option("--queue", help="Only this queue", autocompletion=complete_queue),
]
STATUS_NAMES = "|".join(TaskStatus)


def _status(value: str | None) -> TaskStatus | None:
    """``--status`` read as a TaskStatus; a wrong one names the valid ones, in the CLI's words.

    Typer's own choice check words its refusal as a pydantic validation error.
    """
    if value is None:
        return None
    try:
        return TaskStatus(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a task status; use one of: {', '.join(TaskStatus)}"
        ) from None


def _complete_status(incomplete: str) -> list[str]:
    return [s.value for s in TaskStatus if s.value.startswith(incomplete)]


StatusFilter = Annotated[
    str | None,
    typer.Option(
        "--status",
        "-s",
        help="Only this status",
        metavar=f"<{STATUS_NAMES}>",
        callback=_status,
        autocompletion=_complete_status,
    ),
]
Limit = Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Page size")]
Cursor = Annotated[
    str | None, typer.Option("--cursor", help="Continue from a previous page's next_cursor")
]
Wait = Annotated[
    bool,
    typer.Option("--wait", "-w", help="Follow the task until it ends; exit 6 unless completed"),
]
Timeout = Annotated[
    float | None,
    typer.Option("--timeout", min=0, help="With --wait: give up after this many seconds"),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")]


def page_hint(s: Session, next_cursor: str | None) -> None:
    """Tell people (on stderr) how to get the next page; JSON readers have next_cursor."""
    if next_cursor and s.out.mode is not Mode.JSON:
        s.out.note(f"more results: add --cursor {next_cursor}")
