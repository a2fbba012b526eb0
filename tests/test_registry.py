"""@register_task validation, the task handle, and the backoff formulas."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from jobbers import current_task, task
from jobbers.context import NotInTask
from jobbers.errors import TaskDefinitionError
from jobbers.models.task_config import (
    BackoffStrategy,
    DeadLetterPolicy,
    TaskConfig,
    TaskShutdownPolicy,
)
from jobbers.registry import get_task_config, load_tasks_module, register_task


async def _fn(**kwargs: Any) -> None:
    return None


def _config(**options: Any) -> TaskConfig:
    return TaskConfig(name="t", version=1, function=_fn, **options)


def test_defaults_match_the_seed_table() -> None:
    register_task("reg_defaults", 1)(_fn)
    cfg = get_task_config("reg_defaults", 1)
    assert cfg is not None
    assert cfg.max_retries == 3
    assert cfg.retry_delay is None
    assert cfg.backoff_strategy is BackoffStrategy.EXPONENTIAL
    assert cfg.max_retry_delay == 3600
    assert cfg.expected_exceptions is None
    assert cfg.timeout is None
    assert cfg.dead_letter_policy is DeadLetterPolicy.NONE
    assert cfg.max_heartbeat_interval is None
    assert cfg.max_concurrent == 1
    # Changed from the seed's STOP by issue 14 (item 10): a deploy must not end every task.
    assert cfg.on_shutdown is TaskShutdownPolicy.RESUBMIT


def test_every_option_is_stored() -> None:
    async def full(**kwargs: Any) -> None:
        return None

    register_task(
        "reg_full",
        2,
        max_retries=5,
        retry_delay=30,
        backoff_strategy=BackoffStrategy.EXPONENTIAL_JITTER,
        max_retry_delay=300,
        expected_exceptions=(TimeoutError, ConnectionError),
        timeout=120,
        dead_letter_policy=DeadLetterPolicy.SAVE,
        max_heartbeat_interval=dt.timedelta(minutes=5),
        max_concurrent=None,
        on_shutdown=TaskShutdownPolicy.RESUBMIT,
    )(full)
    cfg = get_task_config("reg_full", 2)
    assert cfg is not None
    assert (cfg.max_retries, cfg.retry_delay, cfg.max_retry_delay, cfg.timeout) == (5, 30, 300, 120)
    assert cfg.expected_exceptions == (TimeoutError, ConnectionError)
    assert cfg.max_heartbeat_interval == dt.timedelta(minutes=5)
    assert cfg.max_concurrent is None
    assert cfg.on_shutdown is TaskShutdownPolicy.RESUBMIT
    assert cfg.function is full


def test_sync_function_is_registered_for_the_thread_pool() -> None:
    def sync(**kwargs: Any) -> None:
        return None

    register_task("reg_sync", 1)(sync)
    cfg = get_task_config("reg_sync", 1)
    assert cfg is not None and cfg.function is sync and not cfg.is_async


def test_async_generator_and_non_callables_are_rejected() -> None:
    async def agen(**kwargs: Any) -> Any:
        yield None

    with pytest.raises(TaskDefinitionError, match="async def"):
        register_task("reg_agen", 1)(agen)
    with pytest.raises(TaskDefinitionError, match="hooks"):
        register_task("reg_hooks", 1, hooks=[object()])(_fn)  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"timeout": 0}, "timeout"),
        ({"retry_delay": -5}, "retry_delay"),
        ({"retry_delay": 100, "max_retry_delay": 10}, "max_retry_delay"),
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"max_heartbeat_interval": dt.timedelta(0)}, "max_heartbeat_interval"),
        ({"expected_exceptions": (int,)}, "expected_exceptions"),
        ({"backoff_strategy": "sideways"}, "backoff_strategy"),
    ],
)
def test_invalid_values_fail_at_decoration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskDefinitionError, match=message):
        register_task("reg_bad", 1, **options)(_fn)
    assert get_task_config("reg_bad", 1) is None


def test_invalid_name_fails() -> None:
    with pytest.raises(TaskDefinitionError, match="invalid name"):
        register_task("has space", 1)(_fn)


def test_duplicate_name_version_bound_to_another_function() -> None:
    async def first(**kwargs: Any) -> None:
        return None

    async def second(**kwargs: Any) -> None:
        return None

    register_task("reg_dup", 1)(first)
    register_task("reg_dup", 1)(first)  # the same function again is fine (re-import)
    register_task("reg_dup", 2)(second)  # another version is a different identity
    with pytest.raises(TaskDefinitionError, match="already registered"):
        register_task("reg_dup", 1)(second)


def test_load_tasks_module_errors_are_clear(tmp_path: Any) -> None:
    with pytest.raises(TaskDefinitionError, match="does not exist"):
        load_tasks_module(str(tmp_path / "missing.py"))
    with pytest.raises(TaskDefinitionError, match="cannot import"):
        load_tasks_module("no_such_module_anywhere")


def test_task_handle_outside_a_task() -> None:
    with pytest.raises(NotInTask):
        current_task()
    with pytest.raises(NotInTask):
        _ = task.id


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (BackoffStrategy.CONSTANT, [10, 10, 10, 10]),
        (BackoffStrategy.LINEAR, [10, 20, 30, 40]),
        (BackoffStrategy.EXPONENTIAL, [20, 40, 80, 100]),
    ],
)
def test_backoff_formulas(strategy: BackoffStrategy, expected: list[float]) -> None:
    cfg = _config(retry_delay=10, backoff_strategy=strategy, max_retry_delay=100)
    assert [cfg.retry_delay_for(n) for n in (1, 2, 3, 4)] == expected


def test_exponential_jitter_is_uniform_below_the_exponential_bound() -> None:
    cfg = _config(
        retry_delay=10, backoff_strategy=BackoffStrategy.EXPONENTIAL_JITTER, max_retry_delay=1000
    )
    rng = random.Random(7)
    samples = [cfg.retry_delay_for(3, rng) or 0.0 for _ in range(2000)]
    assert all(0.0 <= s <= 80.0 for s in samples)
    assert 35 < sum(samples) / len(samples) < 45  # mean of uniform(0, 80)
    capped = _config(
        retry_delay=10, backoff_strategy=BackoffStrategy.EXPONENTIAL_JITTER, max_retry_delay=15
    )
    assert max(capped.retry_delay_for(5, rng) or 0.0 for _ in range(200)) <= 15


def test_no_retry_delay_means_requeue_at_once() -> None:
    assert _config().retry_delay_for(1) is None


def test_expected_exceptions_use_isinstance_and_timeouts_always_retry() -> None:
    class Base(Exception):
        pass

    class Child(Base):
        pass

    cfg = _config(expected_exceptions=(Base,))
    assert cfg.is_expected(Child())
    assert cfg.is_expected(TimeoutError())
    assert not cfg.is_expected(ValueError())
    assert not _config().is_expected(ValueError())
