"""The task registry: ``@register_task`` and the loading of a user's tasks module."""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from jobbers.errors import TaskDefinitionError
from jobbers.hooks import Hook
from jobbers.models.task_config import (
    BackoffStrategy,
    DeadLetterPolicy,
    TaskConfig,
    TaskFunction,
    TaskShutdownPolicy,
)

# The decorator gives back the function with its own type (async or not).
F = TypeVar("F", bound=TaskFunction)

_REGISTRY: dict[tuple[str, int], TaskConfig] = {}


def register_task(
    name: str,
    version: int,
    *,
    max_retries: int = 3,
    retry_delay: int | None = None,
    backoff_strategy: BackoffStrategy = BackoffStrategy.EXPONENTIAL,
    max_retry_delay: int = 3600,
    expected_exceptions: tuple[type[BaseException], ...] | None = None,
    timeout: int | None = None,
    dead_letter_policy: DeadLetterPolicy = DeadLetterPolicy.NONE,
    max_heartbeat_interval: dt.timedelta | None = None,
    max_concurrent: int | None = 1,
    on_shutdown: TaskShutdownPolicy = TaskShutdownPolicy.RESUBMIT,
    hooks: Sequence[Hook] = (),
) -> Callable[[F], F]:
    """Register a function as task ``(name, version)``.

    An ``async def`` runs on the worker's event loop; a plain ``def`` runs in the worker's
    thread pool (``WORKER_THREADS``), so that blocking code leaves the loop, and so the
    heartbeats, free. ``hooks`` are this task's own (``jobbers.hooks``). Invalid options
    fail here, at import time, rather than on the first run in production.
    """

    def decorate(function: F) -> F:
        try:
            config = TaskConfig(
                name=name,
                version=version,
                function=function,
                max_retries=max_retries,
                retry_delay=retry_delay,
                backoff_strategy=backoff_strategy,
                max_retry_delay=max_retry_delay,
                expected_exceptions=expected_exceptions,
                timeout=timeout,
                dead_letter_policy=dead_letter_policy,
                max_heartbeat_interval=max_heartbeat_interval,
                max_concurrent=max_concurrent,
                on_shutdown=on_shutdown,
                hooks=tuple(hooks),
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'task'}: {err['msg']}"
                for err in exc.errors()
            )
            raise TaskDefinitionError(f"invalid task {name!r} v{version}: {problems}") from None
        existing = _REGISTRY.get((name, version))
        if existing is not None and not _same_function(existing.function, function):
            raise TaskDefinitionError(
                f"task {name!r} v{version} is already registered to "
                f"{existing.function.__module__}.{existing.function.__qualname__}"
            )
        _REGISTRY[(name, version)] = config
        return function

    return decorate


def _same_function(a: Any, b: Any) -> bool:
    """A module imported twice (path and dotted name) re-registers the same function."""
    return bool(
        a is b
        or (a.__qualname__ == b.__qualname__ and a.__code__.co_filename == b.__code__.co_filename)
    )


def get_task_config(name: str, version: int) -> TaskConfig | None:
    """The configuration registered for ``(name, version)``, or None."""
    return _REGISTRY.get((name, version))


def registered_tasks() -> dict[tuple[str, int], TaskConfig]:
    """A copy of the registry."""
    return dict(_REGISTRY)


def clear_registry() -> None:
    """Forget every registration (tests use this between modules)."""
    _REGISTRY.clear()


def load_tasks_module(target: str) -> None:
    """Import the user's tasks module, given as a dotted module path or a ``.py`` file path."""
    path = Path(target)
    if target.endswith(".py") or path.is_file():
        if not path.is_file():
            raise TaskDefinitionError(f"tasks file {target!r} does not exist")
        module_name = f"jobbers_tasks_{path.resolve().stem}"
        spec = importlib.util.spec_from_file_location(module_name, path.resolve())
        if spec is None or spec.loader is None:
            raise TaskDefinitionError(f"cannot import tasks file {target!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        sys.path.insert(0, str(path.resolve().parent))
        spec.loader.exec_module(module)
        return
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        importlib.import_module(target)
    except ModuleNotFoundError as exc:
        raise TaskDefinitionError(f"cannot import tasks module {target!r}: {exc}") from None
