"""How the manager runs: one pydantic model, filled from the environment by ``from_env``.

``ManagerEnv`` reads the variables (pydantic-settings, like every process's; see
``jobbers.runtime.settings``) and ``jobbers_manager --help`` lists them from its fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from jobbers.runtime.settings import ProcessEnv
from jobbers.store.settings import DEFAULT_REDIS_URL, var

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# The environment variable behind each field, for messages about bad values.
ENV_VARS = {
    "redis_url": "REDIS_URL",
    "api_token": "JOBBERS_API_TOKEN",
    "max_body_bytes": "JOBBERS_MAX_BODY_BYTES",
    "allowed_hosts": "JOBBERS_ALLOWED_HOSTS",
}
# What ``from_env`` allows as Host without a token: names only this machine reaches.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class ManagerEnv(ProcessEnv):
    """What ``jobbers_manager`` reads."""

    # Set, even empty, JOBBERS_ALLOWED_HOSTS keeps the Host check on a public
    # ``--insecure-no-auth`` bind (``jobbers.server.main``); empty, it means the loopback names.
    keep_empty: ClassVar[frozenset[str]] = frozenset({"prefix", "allowed_hosts"})

    api_token: SecretStr | None = var(
        "JOBBERS_API_TOKEN", None, "when set, every endpoint but /health needs it as a Bearer token"
    )
    max_body_bytes: int = var(
        "JOBBERS_MAX_BODY_BYTES",
        DEFAULT_MAX_BODY_BYTES,
        "the largest request body (413 above)",
        ge=1,
    )
    allowed_hosts: str = var(
        "JOBBERS_ALLOWED_HOSTS",
        "",
        "the Host names answered without a token: comma-separated names, or * for any "
        "(unset: the loopback names)",
    )


class ServerSettings(BaseModel):
    """The manager's configuration; every field has a documented environment variable."""

    model_config = ConfigDict(frozen=True)

    redis_url: str = Field(default=DEFAULT_REDIS_URL, description="REDIS_URL")
    api_token: SecretStr | None = Field(
        default=None, description="JOBBERS_API_TOKEN: when set, every endpoint but /health needs it"
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES, ge=1, description="JOBBERS_MAX_BODY_BYTES"
    )
    tasks_module: str | None = Field(
        default=None, description="the tasks module whose registry validates submissions"
    )
    redis_timeout_s: float = Field(
        default=5.0, gt=0, description="socket timeout, so a hung Redis answers 503, not never"
    )
    retry_after_s: int = Field(default=2, ge=1, description="Retry-After sent with every 503")
    allowed_hosts: tuple[str, ...] | None = Field(
        default=None,
        description="JOBBERS_ALLOWED_HOSTS: the Host names answered while no token is set "
        "(None: any). from_env defaults to the loopback names, against DNS rebinding",
    )

    @classmethod
    def from_env(
        cls, tasks_module: str | None = None, environ: Mapping[str, str] | None = None
    ) -> ServerSettings:
        """Settings from REDIS_URL, JOBBERS_API_TOKEN, JOBBERS_MAX_BODY_BYTES and
        JOBBERS_ALLOWED_HOSTS (comma-separated host names; ``*`` for any; default loopback)."""
        env = (
            ManagerEnv()
            if environ is None
            # The same rules on a given mapping: exact names, an empty value is unset.
            else ManagerEnv.model_validate({k: v for k, v in environ.items() if v})
        )
        return cls.from_manager_env(env, tasks_module)

    @classmethod
    def from_manager_env(cls, env: ManagerEnv, tasks_module: str | None = None) -> ServerSettings:
        """Settings from variables already read: ``jobbers_manager`` also looks at what the
        settings drop (the log level, whether JOBBERS_ALLOWED_HOSTS was set)."""
        values: dict[str, object] = {"tasks_module": tasks_module, "redis_url": env.redis_url}
        if env.api_token is not None and env.api_token.get_secret_value():
            values["api_token"] = env.api_token
        values["max_body_bytes"] = env.max_body_bytes
        hosts = env.allowed_hosts.strip()
        names = tuple(h.strip().strip("[]") for h in hosts.split(",") if h.strip())
        values["allowed_hosts"] = None if hosts == "*" else names or LOOPBACK_HOSTS
        return cls.model_validate(values)
