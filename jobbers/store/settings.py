"""The store's environment variables, in the pydantic-settings model every process's extends.

``StoreEnv`` holds what the store itself reads (the Redis URL, the key prefix, the event
stream's cap and the submit's replicas); ``jobbers.runtime.settings`` builds each process's
model on it, so ``--help`` lists these variables and a bad value stops a process with one
line and exit status 2 before the store reads it. The store reads them here (``store_env``)
because it is also used as a library (``StateManager(Redis())``, the bench, the tests),
with no process model around it; it must not import ``jobbers.runtime``.

The variables keep the names and defaults they always had: an empty variable counts as
unset, as ``os.environ.get(...) or default`` did, except those a model names in
``keep_empty``: an empty ``JOBBERS_PREFIX`` means keys with no prefix, as
``os.environ.get(PREFIX_ENV, default)`` did.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def var(name: str, default: Any, description: str, **constraints: Any) -> Any:
    """A setting read from the environment variable ``name``; ``--help`` shows its line."""
    return Field(default, validation_alias=name, description=description, **constraints)


class StoreEnv(BaseSettings):
    """What the store reads, and so every process."""

    # Empty values are read, and ``_empty_is_unset`` turns them into the default for every
    # field but those in ``keep_empty`` (env_ignore_empty would drop them all).
    model_config = SettingsConfigDict(
        case_sensitive=True, env_ignore_empty=False, extra="ignore", frozen=True
    )

    redis_url: str = var(
        "REDIS_URL",
        DEFAULT_REDIS_URL,
        "the Redis every process shares "
        "(redis://, rediss://, unix://, redis+sentinel://, redis+cluster://)",
    )
    prefix: str = var(
        "JOBBERS_PREFIX", "jb:", "the prefix of every key ({jb}: by default on Redis Cluster)"
    )
    events_maxlen: int = var(
        "JOBBERS_EVENTS_MAXLEN",
        10_000,
        "entries kept in the event stream; 0 turns events off",
        ge=0,
    )
    submit_replicas: int = var(
        "JOBBERS_SUBMIT_REPLICAS", 0, "replicas that must hold a submit before it is acknowledged"
    )
    submit_wait_ms: int = var(
        "JOBBERS_SUBMIT_WAIT_MS", 1000, "how long a submit waits for those replicas"
    )

    # The fields whose empty variable is a value, not unset.
    keep_empty: ClassVar[frozenset[str]] = frozenset({"prefix"})

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        """An empty variable reads as its field's default, as it always did."""
        name = str(info.field_name)
        if value == "" and name not in cls.keep_empty:
            return cls.model_fields[name].default
        return value


def describe(exc: ValidationError) -> str:
    """``VARIABLE: what is wrong`` for each bad value, from the fields' aliases."""
    return "; ".join(
        f"{err['loc'][0] if err['loc'] else 'settings'}: {err['msg']}"
        for err in exc.errors(include_url=False)
    )


def store_env() -> StoreEnv:
    """The store's variables now; a bad value raises ValueError naming its variable.

    Read when a StateManager is built, not cached: a test or a bench run sets a variable
    between two StateManagers of one process.
    """
    try:
        return StoreEnv()
    except ValidationError as exc:
        raise ValueError(describe(exc)) from None
