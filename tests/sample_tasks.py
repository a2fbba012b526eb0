"""Tasks used by the tests (loaded by in-process and subprocess workers alike)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from typing import Any

from redis.asyncio import Redis

from jobbers import task
from jobbers.models.task_config import BackoffStrategy, DeadLetterPolicy, TaskShutdownPolicy
from jobbers.registry import register_task


class Flaky(Exception):
    """An expected, retryable failure."""


def _redis() -> Redis:
    return Redis.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True
    )


async def _mark(kind: str, key: str) -> None:
    """Count runs outside jobbers' own records: test:{kind}:{key}."""
    client = _redis()
    try:
        await client.incr(f"test:{kind}:{key}")
    finally:
        await client.aclose()


@register_task(name="add", version=1, max_concurrent=None)
async def add(**kwargs: Any) -> dict[str, Any]:
    return {"sum": kwargs["a"] + kwargs["b"]}


@register_task(name="noop", version=1, max_concurrent=None)
async def noop(**kwargs: Any) -> None:
    if "mark" in kwargs:
        await _mark("ran", str(kwargs["mark"]))


@register_task(name="bad_result", version=1)
async def bad_result(**kwargs: Any) -> dict[str, Any]:
    return {"when": object()}


@register_task(
    name="flaky",
    version=1,
    max_retries=3,
    expected_exceptions=(Flaky,),
    max_concurrent=None,
    dead_letter_policy=DeadLetterPolicy.SAVE,
)
async def flaky(**kwargs: Any) -> dict[str, Any]:
    """Fails with Flaky until attempt ``succeed_on``; never succeeds without it."""
    attempt = task.attempt
    if attempt < kwargs.get("succeed_on", 99):
        raise Flaky(f"attempt {attempt} failed")
    return {"attempt": attempt}


@register_task(
    name="flaky_delayed",
    version=1,
    max_retries=2,
    retry_delay=1,
    max_retry_delay=1,
    backoff_strategy=BackoffStrategy.CONSTANT,
    expected_exceptions=(Flaky,),
    max_concurrent=None,
)
async def flaky_delayed(**kwargs: Any) -> dict[str, Any]:
    if task.attempt < kwargs.get("succeed_on", 99):
        raise Flaky("not yet")
    return {"attempt": task.attempt}


@register_task(
    name="boom", version=1, dead_letter_policy=DeadLetterPolicy.SAVE, max_concurrent=None
)
async def boom(**kwargs: Any) -> None:
    raise ValueError("unexpected failure")


@register_task(name="slow", version=1, timeout=1, max_retries=0, max_concurrent=None)
async def slow(**kwargs: Any) -> None:
    await asyncio.sleep(float(kwargs.get("seconds", 5)))


@register_task(name="sleeper", version=1, max_concurrent=None)
async def sleeper(**kwargs: Any) -> dict[str, Any]:
    """Sleeps, recording that it started and how many run at once."""
    key = str(kwargs.get("group", "g"))
    client = _redis()
    try:
        now = await client.incr(f"test:running:{key}")
        await client.incr(f"test:ran:{kwargs.get('mark', 'x')}")
        peak = int(await client.get(f"test:peak:{key}") or 0)
        if now > peak:
            await client.set(f"test:peak:{key}", now)
        await asyncio.sleep(float(kwargs.get("seconds", 0.2)))
        await client.decr(f"test:running:{key}")
    finally:
        await client.aclose()
    return {"slept": kwargs.get("seconds", 0.2)}


@register_task(name="capped", version=1, max_concurrent=2)
async def capped(**kwargs: Any) -> dict[str, Any] | None:
    return await sleeper(**kwargs)


@register_task(
    name="beater", version=1, max_heartbeat_interval=dt.timedelta(seconds=1), max_concurrent=None
)
async def beater(**kwargs: Any) -> dict[str, Any]:
    """Heartbeats with progress for ``steps`` steps; stops heartbeating if ``hang``."""
    steps = int(kwargs.get("steps", 3))
    for i in range(steps):
        await asyncio.sleep(float(kwargs.get("step_s", 0.1)))
        await task.heartbeat(progress=(i + 1) / steps, message=f"{i + 1}/{steps}")
    if kwargs.get("hang"):
        await asyncio.sleep(60)
    return {"steps": steps}


@register_task(name="forever", version=1, max_concurrent=None)
async def forever(**kwargs: Any) -> None:
    await _mark("started", str(kwargs.get("mark", "x")))
    await asyncio.sleep(3600)


@register_task(
    name="resubmitter", version=1, on_shutdown=TaskShutdownPolicy.RESUBMIT, max_concurrent=None
)
async def resubmitter(**kwargs: Any) -> None:
    await _mark("started", str(kwargs.get("mark", "x")))
    if int(await _redis().get(f"test:started:{kwargs.get('mark', 'x')}") or 0) < 2:
        await asyncio.sleep(3600)


@register_task(
    name="finisher", version=1, on_shutdown=TaskShutdownPolicy.CONTINUE, max_concurrent=None
)
async def finisher(**kwargs: Any) -> dict[str, Any]:
    await _mark("started", str(kwargs.get("mark", "x")))
    await asyncio.sleep(float(kwargs.get("seconds", 1.0)))
    return {"finished": True}


@register_task(
    name="suicide", version=1, dead_letter_policy=DeadLetterPolicy.SAVE, max_concurrent=None
)
async def suicide(**kwargs: Any) -> None:
    """Kills its own worker process, like a segfault or the OOM killer would."""
    await _mark("started", str(kwargs.get("mark", "x")))
    os.kill(os.getpid(), 9)


@register_task(name="stubborn", version=1, max_concurrent=None)
async def stubborn(**kwargs: Any) -> None:
    """Swallows cancellation: the worst a task can do to a shutdown."""
    await _mark("started", str(kwargs.get("mark", "x")))
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            continue


@register_task(name="huge_result", version=1, max_concurrent=None)
async def huge_result(**kwargs: Any) -> dict[str, Any]:
    return {"blob": "x" * (2 * 1024 * 1024)}


@register_task(name="not_a_dict", version=1, max_concurrent=None)
async def not_a_dict(**kwargs: Any) -> Any:
    return [1, 2, 3]
