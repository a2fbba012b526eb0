"""``jobbers schedules``: list, get, create, update, delete, pause, resume, trigger."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobbers.models.schedule import MissedPolicy, OverlapPolicy

from .. import views
from ..inputs import parse_duration, parse_params
from ..options import ScheduleArg, complete_queue
from ..records import NamedRecords
from ..session import Session, api_command

app = typer.Typer(
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


def _definition(
    base: dict[str, Any],
    task: str | None,
    version: int | None,
    queue: str | None,
    param: list[str] | None,
    params: str | None,
    cron: str | None,
    every: str | None,
    timezone: str | None,
    overlap: OverlapPolicy | None,
    missed: MissedPolicy | None,
    jitter: str | None,
    paused: bool | None,
) -> dict[str, Any]:
    """``base`` (a stored definition, or empty) with every option given laid over it."""
    if cron is not None and every is not None:
        raise typer.BadParameter("give --cron or --every, not both", param_hint="--cron")
    out = dict(base)
    spec = dict(out.get("task") or {})
    for key, value in (("name", task), ("version", version), ("queue", queue)):
        if value is not None:
            spec[key] = value
    if param or params is not None:
        spec["parameters"] = parse_params(param or [], params)
    out["task"] = spec
    if cron is not None:
        out["cron"], out["every"] = cron, None
    if every is not None:
        out["cron"], out["every"] = None, parse_duration(every, "--every")
    if timezone is not None:
        out["timezone"] = timezone
    if overlap is not None:
        out["overlap"] = overlap.value
    if missed is not None:
        out["missed"] = missed.value
    if jitter is not None:
        out["jitter"] = parse_duration(jitter, "--jitter")
    if paused is not None:
        out["enabled"] = not paused
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
def create(
    s: Session,
    name: Annotated[str, typer.Argument(metavar="NAME", help="New schedule's name")],
    task: TaskOpt = None,
    version: VersionOpt = None,
    queue: QueueOpt = None,
    param: ParamOpt = None,
    params: ParamsOpt = None,
    cron: CronOpt = None,
    every: EveryOpt = None,
    timezone: TzOpt = None,
    overlap: OverlapOpt = None,
    missed: MissedOpt = None,
    jitter: JitterOpt = None,
    paused: PausedOpt = None,
) -> None:
    """Create a schedule: --task and one of --cron or --every (exit 4 if the name is taken)."""
    from jobbers.api.schemas import Schedule

    if task is None:
        raise typer.BadParameter("a schedule needs --task NAME", param_hint="--task")
    if cron is None and every is None:
        raise typer.BadParameter("give --cron EXPR or --every INTERVAL", param_hint="--cron")
    body = _definition(
        {"name": name}, task, version, queue, param, params, cron, every, timezone, overlap,
        missed, jitter, paused,
    )  # fmt: skip
    schedule = s.call(s.api.create_schedule(Schedule.model_validate(body)))
    views.print_named(s.out, schedule, views.SCHEDULE_FIELDS)


@app.command("update")
@api_command
def update(
    s: Session,
    name: ScheduleArg,
    task: TaskOpt = None,
    version: VersionOpt = None,
    queue: QueueOpt = None,
    param: ParamOpt = None,
    params: ParamsOpt = None,
    cron: CronOpt = None,
    every: EveryOpt = None,
    timezone: TzOpt = None,
    overlap: OverlapOpt = None,
    missed: MissedOpt = None,
    jitter: JitterOpt = None,
    paused: PausedOpt = None,
) -> None:
    """Change what is given and keep the rest; the next tick is computed anew."""
    from jobbers.api.schemas import ScheduleUpdate

    current = s.call(s.api.get_schedule(name))
    stored = current.model_dump(
        mode="json",
        include={"task", "cron", "every", "timezone", "overlap", "missed", "jitter", "enabled"},
    )
    body = _definition(
        stored, task, version, queue, param, params, cron, every, timezone, overlap, missed,
        jitter, paused,
    )  # fmt: skip
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
