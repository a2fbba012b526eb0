"""``jobbers roles``: list, get, create, set, update, delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from jobbers.models.enums import QueueStrategy

from .. import views
from ..app import ParsedOptionsGroup
from ..options import RoleArg, complete_queue, grouped_options
from ..records import NamedRecords
from ..session import Session, api_command

app = typer.Typer(
    cls=ParsedOptionsGroup,
    help="Roles: which queues a worker of each role consumes.",
    no_args_is_help=True,
)

QueuesArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="QUEUE",
        help="Queues, in the order workers poll them",
        autocompletion=complete_queue,
    ),
]


StrategyOpt = Annotated[
    QueueStrategy,
    typer.Option(
        "--strategy",
        help="How workers share their starts: round_robin, strict (earlier queues first) "
        "or weighted (by --weight)",
    ),
]
WeightOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--weight", metavar="QUEUE=N", help="A queue's weight (1-1000, default 1); repeatable"
    ),
]


def _weights(pairs: list[str] | None) -> dict[str, int]:
    """``QUEUE=N`` pairs as a dict; a malformed one is a usage error."""
    out: dict[str, int] = {}
    for pair in pairs or []:
        queue, _, n = pair.partition("=")
        if not queue or not n.strip().isdigit():
            raise typer.BadParameter(f"{pair!r} is not QUEUE=N", param_hint="--weight")
        out[queue] = int(n)
    return out


@dataclass(frozen=True)
class Definition:
    """What ``create`` and ``set`` take: the whole of a role but its name."""

    queues: QueuesArg = None
    strategy: StrategyOpt = QueueStrategy.ROUND_ROBIN
    weight: WeightOpt = None


roles = NamedRecords(app, RoleArg, views.ROLE_FIELDS)
roles.listing(
    "List roles and their queues.",
    lambda api: api.list_roles(),
    lambda answer: answer.roles,
    views.ROLES,
)
roles.show("get", "Show one role's queues.", lambda api, name: api.get_role(name))


@app.command("create")
@api_command
@grouped_options
def create(s: Session, name: RoleArg, given: Definition) -> None:
    """Create a role over existing queues (exit 4 if the name is taken)."""
    from jobbers.api.schemas import Role

    weights = _weights(given.weight)
    role = Role(name=name, queues=given.queues or [], strategy=given.strategy, weights=weights)
    views.print_named(s.out, s.call(s.api.create_role(role)), views.ROLE_FIELDS)


@app.command("set")
@api_command
@grouped_options
def set_queues(s: Session, name: RoleArg, given: Definition) -> None:
    """Replace a role's queue list and strategy (creates the role); its workers follow."""
    weights = _weights(given.weight)
    role = s.call(s.api.set_role(name, given.queues or [], given.strategy, weights))
    views.print_named(s.out, role, views.ROLE_FIELDS)


@app.command("update")
@api_command
def update(
    s: Session,
    name: RoleArg,
    queues: QueuesArg = None,
    strategy: Annotated[
        QueueStrategy | None,
        typer.Option("--strategy", help="round_robin, strict or weighted (default: unchanged)"),
    ] = None,
    weight: WeightOpt = None,
) -> None:
    """Change what is given of an existing role (queues, strategy, weights); keep the rest."""
    role = s.call(s.api.get_role(name))
    new_queues = queues or role.queues
    new_strategy = strategy or role.strategy
    if weight is not None:
        weights = _weights(weight)
    elif new_strategy is QueueStrategy.WEIGHTED:
        weights = {q: w for q, w in role.weights.items() if q in new_queues}
    else:
        weights = {}
    role = s.call(s.api.set_role(name, new_queues, new_strategy, weights))
    views.print_named(s.out, role, views.ROLE_FIELDS)


@app.command("delete")
@api_command
def delete(s: Session, name: RoleArg) -> None:
    """Delete a role; its workers finish what they run and take nothing new."""
    # Said before the delete: its workers stop claiming the moment it is gone.
    busy = [w for w in s.call(s.api.workers()).workers if w.role == name and w.in_flight]
    if busy:
        running = sum(len(w.in_flight) for w in busy)
        s.out.note(
            f"warning: {len(busy)} worker(s) of role {name} still run {running} task(s); they "
            "finish (jobbers dev re-queues on_shutdown=RESUBMIT ones) and nothing new starts"
        )
    answer = s.call(s.api.delete_role(name))
    s.out.done(answer, answer.message, [name])
