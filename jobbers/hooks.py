"""Hooks: code of yours that jobbers calls around each task (Sentry, tracing, metrics...).

Subclass ``Hook`` and override the methods you need; register an instance for every task
with ``jobbers.hooks.add(hook)`` in your tasks module, or for one task with
``@register_task(..., hooks=[hook])``. Global hooks run before a task's own hooks.

=================  =========================  ==========================================
method             called in                  when
=================  =========================  ==========================================
``on_submit``      the submitting process     before ``StateManager.submit`` stores a
                                              task (global hooks only); may add headers
``before_run``     the worker                 a run is about to call the task function
``after_run``      the worker                 the run ended: ``outcome``, ``error``,
                                              ``duration`` (before it is recorded)
``on_retry``       the worker                 the run failed and the task will run again
``on_dead_letter`` the worker                 the run failed for good (``saved``: the
                                              DLQ kept it)
=================  =========================  ==========================================

Hooks are plain (not async) methods run on the worker's event loop, before and after the
task, in the task's context (``jobbers.task`` works there): keep them quick. A hook that
raises is logged with its traceback and skipped; it never changes the task's outcome. With
no hook registered, a run pays one tuple lookup for them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobbers.store.protocol import RunOutcome as RunOutcome  # how a run ended, as hooks see it

log = logging.getLogger("jobbers.hooks")

_GLOBAL: list[Hook] = []
_NO_HOOKS: tuple[Hook, ...] = ()


@dataclass
class SubmitInfo:
    """A task about to be submitted; hooks may add string ``headers`` stored with it."""

    id: str
    name: str
    version: int
    queue: str
    parameters: Mapping[str, Any]
    headers: MutableMapping[str, str] = field(default_factory=dict)


@dataclass
class RunInfo:
    """One run of a task, as the worker's hooks see it.

    ``headers`` are those the submitter's ``on_submit`` hooks stored (only fetched when a
    registered hook sets ``wants_headers``). ``scratch`` is free for hooks to keep
    per-run state between ``before_run`` and ``after_run`` (a span, a timer).
    """

    id: str
    run_id: str
    name: str
    version: int
    queue: str
    attempt: int  # counted from 0 for the first try, as the worker and the retries count
    parameters: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    scratch: dict[str, Any] = field(default_factory=dict)


class Hook:
    """Base class of a hook: every method is a no-op until overridden."""

    #: Set to True when ``before_run`` needs ``RunInfo.headers`` (costs a read per run).
    wants_headers: bool = False

    def on_submit(self, info: SubmitInfo) -> None:
        """A task is about to be stored: add ``info.headers`` (e.g. a trace context)."""

    def before_run(self, info: RunInfo) -> None:
        """The worker is about to call the task function."""

    def after_run(
        self,
        info: RunInfo,
        outcome: RunOutcome,
        error: BaseException | None,
        duration: float,
    ) -> None:
        """The run ended (``duration`` in seconds); ``error`` is what the task raised."""

    def on_retry(self, info: RunInfo, error: BaseException | None, delay: float | None) -> None:
        """The run failed and the task will run again (after ``delay`` s, None: at once)."""

    def on_dead_letter(self, info: RunInfo, error: BaseException | None, saved: bool) -> None:
        """The run failed for good; ``saved`` when the task's policy keeps it in the DLQ."""


def add(*hooks: Hook) -> None:
    """Register hooks for every task of this process (call it in your tasks module)."""
    for hook in hooks:
        if not isinstance(hook, Hook):
            raise TypeError(f"{hook!r} is not a jobbers.hooks.Hook")
        if hook not in _GLOBAL:
            _GLOBAL.append(hook)


def remove(hook: Hook) -> None:
    """Unregister a global hook (tests, or an integration switched off)."""
    if hook in _GLOBAL:
        _GLOBAL.remove(hook)


def registered() -> tuple[Hook, ...]:
    """The global hooks, in the order they run."""
    return tuple(_GLOBAL)


def any_registered() -> bool:
    """True when a global hook is registered (the submit path skips its work otherwise)."""
    return bool(_GLOBAL)


def for_task(own: Sequence[Hook]) -> tuple[Hook, ...]:
    """The hooks of one run: the global ones, then the task's own."""
    if not _GLOBAL and not own:
        return _NO_HOOKS
    return (*_GLOBAL, *own)


def call(hooks: Iterable[Hook], method: str, *args: Any) -> None:
    """Call ``method`` on each hook; one that raises is logged and the others still run."""
    for hook in hooks:
        try:
            getattr(hook, method)(*args)
        except Exception:
            log.exception("hook %s.%s raised; ignored", type(hook).__name__, method)


def submit_headers(
    task_id: str, name: str, version: int, queue: str, parameters: Mapping[str, Any]
) -> dict[str, str]:
    """Run the global ``on_submit`` hooks and return the headers they added (often none)."""
    if not _GLOBAL:
        return {}
    info = SubmitInfo(task_id, name, version, queue, parameters)
    call(_GLOBAL, "on_submit", info)
    return {str(k): str(v) for k, v in info.headers.items()}
