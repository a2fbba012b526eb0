"""Every environment variable of every jobbers process, in one family of pydantic-settings models.

``ProcessEnv`` holds what every process reads: the store's variables (``StoreEnv`` of
``jobbers.store.settings``: the Redis URL, the key prefix, the store's options) and the log
level; ``RuntimeEnv`` adds the log format of the worker, the scheduler and
the cleaner, ``WorkerEnv``, ``SchedulerEnv`` and ``CleanerEnv`` add their own, and the
manager's ``ManagerEnv`` lives beside its settings (``jobbers.server.settings``). Each
field names its variable (``validation_alias``), its default and what it does: ``env_help``
turns them into the environment section of each process's ``--help``, and ``read_env``
turns a bad value into one clear line and exit status 2 instead of a traceback.

The variables keep the names and defaults they always had: an empty variable counts as
unset, as ``os.environ.get(...) or default`` did, but for the few where it always meant
something (``keep_empty``: an empty JOBBERS_PREFIX, an empty JOBBERS_ALLOWED_HOSTS).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import textwrap
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from pydantic import ValidationError, field_validator

from jobbers.store.settings import StoreEnv, describe, var

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

E = TypeVar("E", bound="ProcessEnv")


class ProcessEnv(StoreEnv):
    """What every process reads: the store's variables and the log level."""

    log_level: str = var("JOBBERS_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING...")

    def values_for(self, settings: type[DataclassInstance]) -> dict[str, Any]:
        """This model's values for the fields of the dataclass ``settings`` that it reads."""
        names = {field.name for field in dataclasses.fields(settings)}
        return {name: getattr(self, name) for name in type(self).model_fields if name in names}


class RuntimeEnv(ProcessEnv):
    """What the worker, the scheduler and the cleaner read besides (their log format)."""

    log_format: str = var("JOBBERS_LOG_FORMAT", "text", "json: one JSON object per line")

    @field_validator("log_level")
    @classmethod
    def _a_level(cls, value: str) -> str:
        """A level ``logging`` knows, or a clear message (not a traceback at start-up)."""
        if value.upper() not in logging.getLevelNamesMapping():
            raise ValueError("not a log level (DEBUG, INFO, WARNING, ERROR or CRITICAL)")
        return value.upper()


class LeaseEnv(RuntimeEnv):
    """What the worker and the cleaner both read: the lease and the recovery cap."""

    lease_ms: int = var(
        "JOBBERS_WORKER_LEASE_MS",
        15_000,
        "the workers' lease: dead after that long without a heartbeat (give "
        "the cleaner the workers' value)",
    )
    max_recoveries: int = var(
        "JOBBERS_MAX_RECOVERIES", 3, "recoveries of a task before it ends stalled"
    )


class WorkerEnv(LeaseEnv):
    """What ``jobbers_worker`` reads."""

    role: str = var("WORKER_ROLE", "default", "the role whose queues it serves")
    concurrency: int = var("WORKER_CONCURRENT_TASKS", 10, "tasks run at once")
    threads: int | None = var(
        "WORKER_THREADS", None, "threads for plain `def` tasks (unset: WORKER_CONCURRENT_TASKS)"
    )
    metrics_port: int = var(
        "WORKER_METRICS_PORT", 0, "serve Prometheus metrics on this port (0: no metrics server)"
    )
    watchdog: bool = var(
        "JOBBERS_WATCHDOG",
        True,
        "exit (status 70) when the event loop is blocked for a lease; 0 turns it off",
    )

    @field_validator("watchdog", mode="before")
    @classmethod
    def _anything_but_zero(cls, value: Any) -> bool:
        """Only ``0`` turns the watchdog off, as it always did."""
        return value is True or str(value).strip() != "0"


class SchedulerEnv(RuntimeEnv):
    """What ``jobbers_scheduler`` reads: only what every process does."""


class CleanerEnv(LeaseEnv):
    """What ``jobbers_cleaner`` reads."""

    retention_s: float = var(
        "JOBBERS_RETENTION_S", 7 * 86400, "seconds completed, cancelled and dropped tasks are kept"
    )
    failed_retention_s: float = var(
        "JOBBERS_FAILED_RETENTION_S", 30 * 86400, "seconds failed and stalled tasks are kept"
    )
    retention_budget_s: float = var(
        "JOBBERS_RETENTION_BUDGET_S", 5.0, "seconds one pass may spend deleting expired tasks"
    )
    conn_check_s: float = var(
        "JOBBERS_CONN_CHECK_S",
        0.5,
        "seconds between looks at the workers' connections; 0 turns it off",
    )
    conn_grace_s: float = var(
        "JOBBERS_CONN_GRACE_S",
        10.0,
        "seconds after an outage or a failover before a connection watch reaps",
    )


def process_parser(prog: str, description: str, env: type[ProcessEnv]) -> argparse.ArgumentParser:
    """An argument parser whose ``--help`` ends with the variables ``env`` reads."""
    return argparse.ArgumentParser(
        prog=prog,
        description=textwrap.fill(description, 79),
        epilog=env_help(env),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def env_help(model: type[ProcessEnv]) -> str:
    """The environment section of a process's ``--help``, from the model's fields."""
    rows = []
    for field in model.model_fields.values():
        name = str(field.validation_alias)
        default = "unset" if field.default in (None, "") else str(field.default)
        if isinstance(field.default, bool):
            default = "1" if field.default else "0"
        rows.append((name, f"{field.description} (default: {default})"))
    width = max(len(name) for name, _ in rows) + 4
    lines = [
        textwrap.fill(
            text, 79, initial_indent=f"  {name}".ljust(width), subsequent_indent=" " * width
        )
        for name, text in rows
    ]
    return "environment variables:\n" + "\n".join(lines)


def read_env(model: type[E], prog: str) -> E:
    """The process's settings from the environment, or one line per bad value and exit 2."""
    try:
        return model()
    except ValidationError as exc:
        fail(prog, f"invalid setting: {describe(exc)}")


def fail(prog: str, message: str) -> NoReturn:
    """One line on stderr and exit status 2: what a service manager shows the operator."""
    print(f"{prog}: {message}", file=sys.stderr)  # noqa: T201
    sys.exit(2)
