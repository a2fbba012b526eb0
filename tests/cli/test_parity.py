"""Every route of the manager has a ``jobbers`` command, and the table below says which."""

from __future__ import annotations

import typer
from jobbers.cli.app import app
from jobbers.server.app import create_app
from jobbers.server.settings import ServerSettings
from typer.core import TyperGroup
from typer.main import get_command

COMMAND_FOR_ROUTE = {
    ("POST", "/submit-task"): "submit",
    ("POST", "/submit-tasks"): "submit-many",
    ("GET", "/task-status/{task_id}"): "status",
    ("GET", "/task-list"): "list",
    ("POST", "/task/{task_id}/cancel"): "cancel",
    ("POST", "/tasks/cancel"): "cancel",
    ("POST", "/task/{task_id}/retry"): "retry",
    ("GET", "/active-tasks"): "active",
    ("GET", "/scheduled-tasks"): "scheduled",
    ("GET", "/events"): "events",
    ("GET", "/workers"): "workers",
    ("GET", "/stats"): "stats",
    ("GET", "/health"): "health",
    ("GET", "/metrics"): "metrics",
    ("GET", "/queues"): "queues list",
    ("POST", "/queues"): "queues create",
    ("GET", "/queues/{name}/config"): "queues get",
    ("PUT", "/queues/{name}"): "queues update",
    ("DELETE", "/queues/{name}"): "queues delete",
    ("POST", "/queues/{name}/pause"): "queues pause",
    ("POST", "/queues/{name}/resume"): "queues resume",
    ("POST", "/queues/{name}/purge"): "queues purge",
    ("GET", "/roles"): "roles list",
    ("POST", "/roles"): "roles create",
    ("GET", "/roles/{role_name}"): "roles get",
    ("PUT", "/roles/{role_name}"): "roles set",
    ("DELETE", "/roles/{role_name}"): "roles delete",
    ("GET", "/dead-letter-queue"): "dlq list",
    ("GET", "/dead-letter-queue/{task_id}/history"): "dlq history",
    ("POST", "/dead-letter-queue/resubmit"): "dlq resubmit",
    ("DELETE", "/dead-letter-queue"): "dlq delete",
    # Schedules (issue 15 §2)
    ("GET", "/schedules"): "schedules list",
    ("POST", "/schedules"): "schedules create",
    ("GET", "/schedules/{schedule_name}"): "schedules get",
    ("PUT", "/schedules/{schedule_name}"): "schedules update",
    ("DELETE", "/schedules/{schedule_name}"): "schedules delete",
    ("POST", "/schedules/{schedule_name}/pause"): "schedules pause",
    ("POST", "/schedules/{schedule_name}/resume"): "schedules resume",
    ("POST", "/schedules/{schedule_name}/trigger"): "schedules trigger",
    ("POST", "/submit-workflow"): "workflow submit",
    ("GET", "/workflows"): "workflow list",
    ("GET", "/workflows/{workflow_id}"): "workflow status",
    ("POST", "/workflows/{workflow_id}/cancel"): "workflow cancel",
}


def _routes() -> set[tuple[str, str]]:
    """(method, path) of every documented route, read from the app's OpenAPI document."""
    paths = create_app(ServerSettings()).openapi()["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


def _commands() -> set[str]:
    """Every command path, through click's group contract (the root loads its commands lazily)."""
    found: set[str] = set()

    def walk(command: object, prefix: str) -> None:
        if not isinstance(command, TyperGroup):
            return
        ctx = typer.Context(command, info_name=prefix or "jobbers")
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            path = f"{prefix} {name}".strip()
            found.add(path)
            walk(sub, path)

    walk(get_command(app), "")
    return found


def test_every_route_has_a_command() -> None:
    routes = _routes()
    unmapped = routes - COMMAND_FOR_ROUTE.keys()
    assert not unmapped, f"routes without a jobbers command: {sorted(unmapped)}"
    gone = COMMAND_FOR_ROUTE.keys() - routes
    assert not gone, f"commands for routes the manager no longer has: {sorted(gone)}"


def test_every_mapped_command_exists() -> None:
    missing = set(COMMAND_FOR_ROUTE.values()) - _commands()
    assert not missing, missing


def test_the_process_commands_exist() -> None:
    assert {"manager", "worker", "scheduler", "cleaner", "dev", "top"} <= _commands()
