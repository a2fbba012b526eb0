"""How a registered task behaves: retries, backoff, timeouts, DLQ, heartbeats, shutdown."""

from __future__ import annotations

import datetime as dt
import inspect
import random
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from jobbers.hooks import Hook
from jobbers.models.base import Model

# Defined without pydantic in jobbers.models.enums (the CLI imports them alone); re-exported.
from jobbers.models.enums import BackoffStrategy as BackoffStrategy
from jobbers.models.enums import DeadLetterPolicy as DeadLetterPolicy
from jobbers.models.enums import TaskShutdownPolicy as TaskShutdownPolicy
from jobbers.models.names import Name

# An ``async def`` task, or a plain ``def`` one that the worker runs in its thread pool.
TaskFunction = (
    Callable[..., Awaitable[dict[str, Any] | None]] | Callable[..., dict[str, Any] | None]
)


class TaskConfig(Model):
    """Everything ``@register_task`` was given, validated at decoration time."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", frozen=True)

    name: Name
    version: int = Field(ge=0)
    function: TaskFunction = Field(repr=False)
    max_retries: int = Field(default=3, ge=0)
    retry_delay: int | None = Field(default=None, ge=0)
    backoff_strategy: BackoffStrategy = BackoffStrategy.EXPONENTIAL
    max_retry_delay: int = Field(default=3600, ge=0)
    expected_exceptions: tuple[type[BaseException], ...] | None = None
    timeout: int | None = Field(default=None, gt=0)
    dead_letter_policy: DeadLetterPolicy = DeadLetterPolicy.NONE
    max_heartbeat_interval: dt.timedelta | None = None
    max_concurrent: int | None = Field(default=1, ge=1)
    # RESUBMIT: a routine deploy hands running tasks back to the front of their queue
    # (attempt unchanged) instead of ending them all `stalled` for an operator to retry.
    # Each resubmit counts as a recovery, so JOBBERS_MAX_RECOVERIES bounds a task whose
    # runs keep getting their worker stopped.
    on_shutdown: TaskShutdownPolicy = TaskShutdownPolicy.RESUBMIT
    # This task's own hooks, run after the global ones (``jobbers.hooks``).
    hooks: tuple[Hook, ...] = ()
    # False for a plain ``def``: the worker runs it in its thread pool (set by validation).
    is_async: bool = True

    @field_validator("function")
    @classmethod
    def _must_be_callable(cls, value: TaskFunction) -> TaskFunction:
        if not callable(value) or inspect.isasyncgenfunction(value):
            raise ValueError(f"task function {value!r} must be an `async def` or a `def`")
        return value

    @field_validator("hooks", mode="before")
    @classmethod
    def _hook_instances(cls, value: object) -> object:
        hooks = tuple(value) if isinstance(value, list | tuple) else value
        if not isinstance(hooks, tuple) or not all(isinstance(h, Hook) for h in hooks):
            raise ValueError("hooks must be a list of jobbers.hooks.Hook instances")
        return hooks

    @model_validator(mode="before")
    @classmethod
    def _kind_of_function(cls, data: Any) -> Any:
        if isinstance(data, dict) and "function" in data:
            data = {**data, "is_async": inspect.iscoroutinefunction(data["function"])}
        return data

    @field_validator("expected_exceptions", mode="before")
    @classmethod
    def _exception_types(cls, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, type):
            value = (value,)
        if not isinstance(value, tuple | list) or not all(
            isinstance(v, type) and issubclass(v, BaseException) for v in value
        ):
            raise ValueError("expected_exceptions must be a tuple of exception classes")
        return tuple(value)

    @field_validator("max_heartbeat_interval", mode="before")
    @classmethod
    def _positive_interval(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = dt.timedelta(seconds=value)
        if isinstance(value, dt.timedelta) and value.total_seconds() <= 0:
            raise ValueError("max_heartbeat_interval must be positive")
        return value

    @model_validator(mode="after")
    def _delays_consistent(self) -> TaskConfig:
        if self.retry_delay is not None and self.max_retry_delay < self.retry_delay:
            raise ValueError(
                f"max_retry_delay ({self.max_retry_delay}) must be >= retry_delay "
                f"({self.retry_delay})"
            )
        return self

    @property
    def key(self) -> str:
        """The ``name@version`` identity used in Redis and in messages."""
        return f"{self.name}@{self.version}"

    def is_expected(self, exc: BaseException) -> bool:
        """True when ``exc`` takes the retry path: a timeout or an expected exception."""
        if isinstance(exc, TimeoutError):
            return True
        return bool(self.expected_exceptions) and isinstance(exc, self.expected_exceptions or ())

    def retry_delay_for(self, retry_number: int, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry).

        ``None`` means re-queue at once. CONSTANT is the base, LINEAR base x n, EXPONENTIAL
        base x 2^n and EXPONENTIAL_JITTER uniform(0, base x 2^n), each clamped to
        ``max_retry_delay``.
        """
        if self.retry_delay is None:
            return None
        base = float(self.retry_delay)
        match self.backoff_strategy:
            case BackoffStrategy.CONSTANT:
                delay = base
            case BackoffStrategy.LINEAR:
                delay = base * retry_number
            case BackoffStrategy.EXPONENTIAL:
                delay = base * 2.0**retry_number
            case BackoffStrategy.EXPONENTIAL_JITTER:
                delay = (rng or random).uniform(0.0, base * 2.0**retry_number)
        return min(delay, float(self.max_retry_delay))
