"""Queue and role configuration."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from jobbers.models.names import Name


class RatePeriod(StrEnum):
    """Unit of a queue's rate-limit window."""

    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"

    @property
    def seconds(self) -> int:
        """Length of one period in seconds."""
        return {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[self.value]


class QueueConfig(BaseModel):
    """A queue: per-worker concurrency cap, optional rate limit, and its paused flag."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    max_concurrent: StrictInt | None = Field(default=None, ge=1, le=100_000)
    rate_numerator: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    rate_denominator: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    rate_period: RatePeriod | None = None
    paused: StrictBool = False

    @model_validator(mode="after")
    def _rate_is_complete(self) -> QueueConfig:
        if self.rate_numerator is not None and self.rate_period is None:
            raise ValueError("rate_numerator needs rate_period (second, minute, hour or day)")
        if self.rate_numerator is None and (
            self.rate_period is not None or self.rate_denominator is not None
        ):
            raise ValueError("rate_period and rate_denominator need rate_numerator")
        return self

    @property
    def rate_window_ms(self) -> int | None:
        """Length of the rate-limit window in milliseconds, or None without a limit."""
        if self.rate_numerator is None or self.rate_period is None:
            return None
        return (self.rate_denominator or 1) * self.rate_period.seconds * 1000


class Role(BaseModel):
    """A role: the ordered list of queues a worker of that role consumes."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    queues: list[Name] = Field(default_factory=list, max_length=256)

    @model_validator(mode="after")
    def _unique_queues(self) -> Role:
        seen: list[str] = []
        for queue in self.queues:
            if queue not in seen:
                seen.append(queue)
        self.queues = seen
        return self
