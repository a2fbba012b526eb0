"""``jobbers queues``: list, get, create, update, delete, pause, resume, purge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from jobbers.models.enums import RatePeriod

from .. import views
from ..app import ParsedOptionsGroup
from ..options import QueueArg, Yes, grouped_options
from ..output import plural
from ..records import NamedRecords
from ..session import Session, api_command

app = typer.Typer(
    cls=ParsedOptionsGroup, help="Queues: limits, pause, resume and purge.", no_args_is_help=True
)

MaxConcurrent = Annotated[
    int | None,
    typer.Option("--max-concurrent", min=1, help="Tasks of this queue per worker at once"),
]
RateNumerator = Annotated[
    int | None, typer.Option("--rate-numerator", min=1, help="Rate limit: this many tasks...")
]
RateDenominator = Annotated[
    int | None, typer.Option("--rate-denominator", min=1, help="...per this many periods")
]
RatePeriodOpt = Annotated[RatePeriod | None, typer.Option("--rate-period", help="...of this unit")]


@dataclass(frozen=True)
class Limits:
    """The limits ``create`` and ``update`` take."""

    max_concurrent: MaxConcurrent = None
    rate_numerator: RateNumerator = None
    rate_denominator: RateDenominator = None
    rate_period: RatePeriodOpt = None

    def as_given(self) -> dict[str, Any]:
        """The limits the user gave, leaving the others out (so the server's defaults apply)."""
        return {k: v for k, v in vars(self).items() if v is not None}


queues = NamedRecords(app, QueueArg, views.QUEUE_FIELDS)
queues.listing(
    "List queues with their limits and paused flag.",
    lambda api: api.list_queues(),
    lambda answer: answer.queues,
    views.QUEUES,
)
queues.show("get", "Show one queue's configuration.", lambda api, name: api.get_queue(name))


@app.command("create")
@api_command
@grouped_options
def create(s: Session, name: QueueArg, limits: Limits) -> None:
    """Create a queue (exit 4 if the name is taken)."""
    from jobbers.api.schemas import QueueConfig

    queue = s.call(s.api.create_queue(QueueConfig(name=name, **limits.as_given())))
    views.print_named(s.out, queue, views.QUEUE_FIELDS)


@app.command("update")
@api_command
@grouped_options
def update(
    s: Session,
    name: QueueArg,
    changes: Limits,
    unlimited: Annotated[bool, typer.Option("--unlimited", help="Remove --max-concurrent")] = False,
    no_rate: Annotated[bool, typer.Option("--no-rate-limit", help="Remove the rate limit")] = False,
    create: Annotated[
        bool, typer.Option("--create", help="Create the queue if it does not exist")
    ] = False,
) -> None:
    """Change some of a queue's limits, keeping the others (exit 3 if missing, unless --create)."""
    from jobbers.api.client import NotFound
    from jobbers.api.schemas import QueueUpdate

    try:
        current = s.call(s.api.get_queue(name)).model_dump(exclude={"name", "paused"})
    except NotFound as exc:
        if not create:
            # A typo in NAME would otherwise make a new queue no worker consumes.
            raise NotFound(
                exc.status,
                f"queue {name!r} not found; create it with: jobbers queues create {name} "
                "(or add --create)",
            ) from None
        current = {}
    limits = {**current, **changes.as_given()}
    if unlimited:
        limits["max_concurrent"] = None
    if no_rate:
        limits |= {"rate_numerator": None, "rate_denominator": None, "rate_period": None}
    queue = s.call(s.api.update_queue(name, QueueUpdate(**limits)))
    views.print_named(s.out, queue, views.QUEUE_FIELDS)


queues.delete(
    "Delete an empty queue and drop it from every role (exit 4 while it holds tasks).",
    lambda api, name: api.delete_queue(name),
)
queues.show(
    "pause",
    "Stop workers starting this queue's tasks; submissions are still accepted.",
    lambda api, name: api.pause_queue(name),
)
queues.show(
    "resume",
    "Let workers start this queue's tasks again.",
    lambda api, name: api.resume_queue(name),
)


@app.command("purge")
@api_command
def purge(s: Session, name: QueueArg, yes: Yes = False) -> None:
    """Cancel every waiting (submitted or scheduled) task of a queue; running ones finish."""
    s.confirm(f"Cancel every waiting task of queue {name!r}?", yes)
    answer = s.call(s.api.purge_queue(name))
    done = f"cancelled {plural(answer.cancelled, 'waiting task')} of queue {name!r}"
    s.out.done(answer, done, [name])
