"""Queue and role configuration."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StrictBool, StrictInt, model_validator

from jobbers.models.base import Model

# Defined without pydantic in jobbers.models.enums (the CLI imports them alone); re-exported.
from jobbers.models.enums import QueueStrategy as QueueStrategy
from jobbers.models.enums import RatePeriod as RatePeriod
from jobbers.models.names import Name


class QueueConfig(Model):
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


Weight = Annotated[StrictInt, Field(ge=1, le=1000)]


def check_strategy(
    queues: list[str], strategy: QueueStrategy, weights: dict[str, int]
) -> dict[str, int]:
    """The weights of a role, or ValueError when they do not fit its strategy and queues.

    Weights belong to the ``weighted`` strategy only, each to a queue of the role; a queue
    without one weighs 1.
    """
    if weights and strategy is not QueueStrategy.WEIGHTED:
        raise ValueError(f"weights need strategy 'weighted' (not {strategy.value!r})")
    unknown = sorted(set(weights) - set(queues))
    if unknown:
        raise ValueError(f"weights name queues the role does not have: {', '.join(unknown)}")
    return weights


class Role(Model):
    """A role: the ordered list of queues a worker of that role consumes, and how it
    shares its starts between them (``strategy``)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    queues: list[Name] = Field(default_factory=list, max_length=256)
    strategy: QueueStrategy = QueueStrategy.ROUND_ROBIN
    weights: dict[Name, Weight] = Field(
        default_factory=dict, description="queue -> weight (1-1000, default 1), for weighted"
    )

    @model_validator(mode="after")
    def _unique_queues(self) -> Role:
        seen: list[str] = []
        for queue in self.queues:
            if queue not in seen:
                seen.append(queue)
        self.queues = seen
        check_strategy(self.queues, self.strategy, self.weights)
        return self

    def weight(self, queue: str) -> int:
        """The queue's weight under the ``weighted`` strategy (1 when not given)."""
        return self.weights.get(queue, 1)
