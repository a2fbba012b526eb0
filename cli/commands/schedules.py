"""``jobbers schedules``: list, get, create, update, delete, pause, resume, trigger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from jobbers.models.enums import MissedPolicy, OverlapPolicy

from .. import views
from ..app import ParsedOptionsGroup
from ..inputs import parse_duration, parse_params
from ..options import ScheduleArg, complete_queue, grouped_options
from ..records import NamedRecords
from ..session import Session, api_command

app = typer.Typer(
    cls=ParsedOptionsGroup,
    help="Schedules: cron or interval rules that submit a task at each tick.",
    no_args_is_help=True,
)


TaskOpt = Annotated[str | None, typer.Option("--task", "-t", help="The registered task to submit")]
VersionOpt = Annotated[int | None, typer.Option("--version", "-V", min=0, help="Task version")]
QueueOpt = Annotated[
    str | None, typer.Option("--queue", help="Queue to submit to", autocompletion=complete_queue)
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="key=value (a string) or key:=json; repeatable"),
]
ParamsOpt = Annotated[
    str | None, typer.Option("--params", help="Parameters as a JSON object, @file or -")
]
CronOpt = Annotated[
    str | None, typer.Option("--cron", help='5 fields (or 6 with seconds first): "0 3 * * *"')
]
EveryOpt = Annotated[
    str | None, typer.Option("--every", help="Interval instead of --cron: 60, 90s, 15m, 2h")
]
TzOpt = Annotated[
    str | None, typer.Option("--timezone", "--tz", help="IANA timezone of --cron (default UTC)")
]
OverlapOpt = Annotated[
    OverlapPolicy | None,
    typer.Option("--overlap", help="While the last task runs: skip (default), allow or cancel"),
]
MissedOpt = Annotated[
    MissedPolicy | None,
    typer.Option("--missed", help="Ticks missed while no scheduler ran: skip or run_once"),
]
JitterOpt = Annotated[
    str | None, typer.Option("--jitter", help="Delay each tick's task by up to this: 30s, 5m")
]
PausedOpt = Annotated[bool | None, typer.Option("--paused/--enabled", help="Store it paused")]


@dataclass(frozen=True)
class Definition:
    """The options ``create`` and ``update`` share: the schedule's rule, task and policies."""

    task: TaskOpt = None
    version: VersionOpt = None
    queue: QueueOpt = None
    param: ParamOpt = None
    params: ParamsOpt = None
    cron: CronOpt = None
    every: EveryOpt = None
    timezone: TzOpt = None
    overlap: OverlapOpt = None
    missed: MissedOpt = None
    jitter: JitterOpt = None
    paused: PausedOpt = None

    def laid_over(self, base: dict[str, Any]) -> dict[str, Any]:
        """``base`` (a stored definition, or empty) with every option given laid over it."""
        if self.cron is not None and self.every is not None:
            raise typer.BadParameter("give --cron or --every, not both", param_hint="--cron")
        out = dict(base)
        spec = dict(out.get("task") or {})
        for key, value in (("name", self.task), ("version", self.version), ("queue", self.queue)):
            if value is not None:
                spec[key] = value
        if self.param or self.params is not None:
            spec["parameters"] = parse_params(self.param or [], self.params)
        out["task"] = spec
        if self.cron is not None:
            out["cron"], out["every"] = self.cron, None
        if self.every is not None:
            out["cron"], out["every"] = None, parse_duration(self.every, "--every")
        if self.timezone is not None:
            out["timezone"] = self.timezone
        if self.overlap is not None:
            out["overlap"] = self.overlap.value
        if self.missed is not None:
            out["missed"] = self.missed.value
        if self.jitter is not None:
            out["jitter"] = parse_duration(self.jitter, "--jitter")
        if self.paused is not None:
            out["enabled"] = not self.paused
        return out


schedules = NamedRecords(app, ScheduleArg, views.SCHEDULE_FIELDS)
schedules.listing(
    "List schedules with their next and last fire.",
    lambda api: api.list_schedules(),
    lambda answer: answer.schedules,
    views.SCHEDULES,
)
schedules.show(
    "get",
    "Show one schedule: its rule, policies, next and last fire and last task.",
    lambda api, name: api.get_schedule(name),
)


@app.command("create")
@api_command
@grouped_options
def create(
    s: Session,
    name: Annotated[str, typer.Argument(metavar="NAME", help="New schedule's name")],
    given: Definition,
) -> None:
    """Create a schedule: --task and one of --cron or --every (exit 4 if the name is taken)."""
    from jobbers.api.schemas import Schedule

    if given.task is None:
        raise typer.BadParameter("a schedule needs --task NAME", param_hint="--task")
    if given.cron is None and given.every is None:
        raise typer.BadParameter("give --cron EXPR or --every INTERVAL", param_hint="--cron")
    body = given.laid_over({"name": name})
    schedule = s.call(s.api.create_schedule(Schedule.model_validate(body)))
    views.print_named(s.out, schedule, views.SCHEDULE_FIELDS)


@app.command("update")
@api_command
@grouped_options
def update(s: Session, name: ScheduleArg, given: Definition) -> None:
    """Change what is given and keep the rest; the next tick is computed anew."""
    from jobbers.api.schemas import ScheduleUpdate

    current = s.call(s.api.get_schedule(name))
    stored = current.model_dump(
        mode="json",
        include={"task", "cron", "every", "timezone", "overlap", "missed", "jitter", "enabled"},
    )
    body = given.laid_over(stored)
    schedule = s.call(s.api.put_schedule(name, ScheduleUpdate.model_validate(body)))
    views.print_named(s.out, schedule, views.SCHEDULE_FIELDS)


schedules.delete(
    "Delete a schedule; the tasks it fired are kept.", lambda api, name: api.delete_schedule(name)
)
schedules.show(
    "pause", "Stop a schedule firing until resumed.", lambda api, name: api.pause_schedule(name)
)
schedules.show(
    "resume",
    "Fire again, from the next tick after now.",
    lambda api, name: api.resume_schedule(name),
)


@app.command("trigger")
@api_command
def trigger(s: Session, name: ScheduleArg) -> None:
    """Submit the schedule's task once now (paused or not)."""
    answer = s.call(s.api.trigger_schedule(name))
    s.out.done(answer, f"{answer.message}: task {answer.task.id}", [str(answer.task.id)])
