"""Tasks used by the tests (loaded by in-process and subprocess workers alike)."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
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


# Retried after 1 s by the scheduler: with no cap, and with the default cap of one run
# at a time per worker (which a claim sent ahead must count right).
delayed_retries = functools.partial(
    register_task,
    version=1,
    max_retries=2,
    retry_delay=1,
    max_retry_delay=1,
    backoff_strategy=BackoffStrategy.CONSTANT,
    expected_exceptions=(Flaky,),
)


async def _flaky_until(**kwargs: Any) -> dict[str, Any]:
    if task.attempt < kwargs.get("succeed_on", 99):
        raise Flaky("not yet")
    return {"attempt": task.attempt}


flaky_delayed = delayed_retries(name="flaky_delayed", max_concurrent=None)(_flaky_until)
capped_delayed = delayed_retries(name="capped_delayed")(_flaky_until)


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


@register_task(name="held", version=1, max_concurrent=2)
async def held(**kwargs: Any) -> None:
    """Capped at two runs per worker; each run lasts until the test pushes one
    ``test:release:held`` (or a minute passes)."""
    client = _redis()
    try:
        await client.blpop(["test:release:held"], timeout=60)
    finally:
        await client.aclose()


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
        await asyncio.Event().wait()  # hangs, silent, until its run is cancelled
    return {"steps": steps}


@register_task(name="forever", version=1, on_shutdown=TaskShutdownPolicy.STOP, max_concurrent=None)
async def forever(**kwargs: Any) -> None:
    await _mark("started", str(kwargs.get("mark", "x")))
    await asyncio.Event().wait()  # runs until its run is cancelled or its worker dies


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


# ---------------------------------------------------------------- fault suite (tests/faults)

RUN_LOG_ENV = "JOBBERS_TEST_RUN_LOG"


def _log_run(tag: str) -> None:
    """One line per run event in the file named by JOBBERS_TEST_RUN_LOG.

    The count lives outside Redis, so it holds whatever a test does to Redis or to
    jobbers' own records; O_APPEND keeps lines whole across worker processes.
    """
    path = os.environ.get(RUN_LOG_ENV)
    if not path:
        return
    line = f"{task.id} {tag} {task.run_id} {os.getpid()}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@register_task(name="counted", version=1, on_shutdown=TaskShutdownPolicy.STOP, max_concurrent=None)
async def counted(**kwargs: Any) -> dict[str, Any]:
    """Sleeps ``seconds``; every start and end is counted in the run log."""
    _log_run("start")
    await asyncio.sleep(float(kwargs.get("seconds", 0.1)))
    _log_run("end")
    return {"pid": os.getpid(), "run_id": task.run_id}


@register_task(name="zombie", version=1, max_concurrent=None)
async def zombie(**kwargs: Any) -> dict[str, Any]:
    """First run: outlives ``seconds`` whatever cancels it, so its late result is always sent.

    Later runs wait until the test pushes ``test:release:{mark}``.
    """
    mark = str(kwargs["mark"])
    client = _redis()
    run = int(await client.incr(f"test:runs:{mark}"))
    if run == 1:
        # Nothing may end this run early, not even a cancel inside a Redis call: its
        # worker must send the result. (The client is left for the process to close.)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(kwargs.get("seconds", 1.0))
        while (left := deadline - loop.time()) > 0:
            try:
                await asyncio.sleep(left)
            except asyncio.CancelledError:
                continue
        while True:
            try:
                await client.set(f"test:late:{mark}", os.getpid())
                break
            except asyncio.CancelledError:
                continue
        return {"run": run, "pid": os.getpid()}
    try:
        await client.blpop([f"test:release:{mark}"], timeout=60)
    finally:
        await client.aclose()
    return {"run": run, "pid": os.getpid()}


# ---------------------------------------------------------------- fault suite, part B

COUNT_DB = 9
"""The Redis DB where ``tally`` runs record themselves: jobbers' own DB stays untouched."""

_COUNTERS: dict[asyncio.AbstractEventLoop, Redis] = {}


def count_url(url: str) -> str:
    """The count DB on the server of ``url``."""
    return f"{url.rsplit('/', 1)[0]}/{COUNT_DB}"


def _counter() -> Redis:
    """One client per event loop, so ten thousand runs do not open ten thousand connections."""
    loop = asyncio.get_running_loop()
    if loop not in _COUNTERS:
        _COUNTERS.clear()  # a client is bound to the loop that created it
        url = count_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        _COUNTERS[loop] = Redis.from_url(url, decode_responses=True)
    return _COUNTERS[loop]


@register_task(name="tally", version=1, max_concurrent=None)
async def tally(**kwargs: Any) -> None:
    """Counts its runs by ``mark`` (HASH ``runs``) and, with ``spans``, logs when it ran.

    A span is "pid start end task_id" on the host clock, pushed to the LIST
    ``spans:{spans}``: the start is taken on entry and the end before returning, so a span
    lies inside the worker slot the run held, whatever jobbers itself records.
    """
    start = dt.datetime.now(dt.UTC).timestamp()
    client = _counter()
    await client.hincrby("runs", str(kwargs.get("mark", "x")), 1)
    await asyncio.sleep(float(kwargs.get("seconds", 0)))
    if "spans" in kwargs:
        end = dt.datetime.now(dt.UTC).timestamp()
        span = f"{os.getpid()} {start!r} {end!r} {task.id}"
        await client.rpush(f"spans:{kwargs['spans']}", span)


@register_task(
    name="drainer", version=1, on_shutdown=TaskShutdownPolicy.CONTINUE, max_concurrent=None
)
async def drainer(**kwargs: Any) -> dict[str, Any]:
    """Policy CONTINUE: the first run outlasts any drain (an hour), later runs end at once."""
    mark = str(kwargs.get("mark", "x"))
    client = _redis()
    try:
        runs = int(await client.incr(f"test:started:{mark}"))
    finally:
        await client.aclose()
    if runs == 1:
        await asyncio.sleep(3600)
    return {"run": runs}


def _runs_logged() -> int:
    """How many runs of the current task the run log holds (this one included)."""
    path = os.environ.get(RUN_LOG_ENV)
    if not path:
        return 1
    with open(path) as log:
        return sum(1 for line in log if line.startswith(f"{task.id} start "))


@register_task(
    name="resubmit_counted",
    version=1,
    on_shutdown=TaskShutdownPolicy.RESUBMIT,
    max_concurrent=None,
)
async def resubmit_counted(**kwargs: Any) -> dict[str, Any]:
    """Policy RESUBMIT: the first run waits to be interrupted, later runs end at once.

    Between its start and its sleep it awaits nothing, so a shutdown's cancel always
    lands in the sleep (a cancel inside a Redis call can stall in the client library).
    """
    _log_run("start")
    runs = _runs_logged()
    if runs == 1:
        await asyncio.sleep(3600)
    return {"runs": runs}


@register_task(name="stubborn_counted", version=1, max_concurrent=None)
async def stubborn_counted(**kwargs: Any) -> None:
    """Swallows every cancellation, like ``stubborn``, with its runs in the run log."""
    _log_run("start")
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            continue


def _nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for _ in range(depth):
        doc = {"a": doc}
    return doc


@register_task(name="unrenderable_result", version=1, max_concurrent=None)
async def unrenderable_result(**kwargs: Any) -> dict[str, Any]:
    """Returns JSON that parses but cannot be sent back out: a lone surrogate, or deep nesting."""
    return {"p": "\ud800"} if kwargs.get("kind") == "surrogate" else _nested(300)


@register_task(name="shout", version=1, max_retries=0, max_concurrent=None)
async def shout(**kwargs: Any) -> None:
    """Fails with ``message`` as its error, as task code may: any text, escapes included."""
    raise ValueError(str(kwargs.get("message", "")))


# ---------------------------------------------------------------- issue 14: run outcomes


@register_task(name="bad_message", version=1, max_concurrent=None)
async def bad_message(**kwargs: Any) -> None:
    """Fails with a message holding a lone surrogate, as ``surrogateescape`` decoding makes."""
    p = kwargs.get("p", b"\xff".decode("utf-8", "surrogateescape"))
    raise ValueError(f"bad {p}")


class Escape(BaseException):
    """Not an Exception: a task's own BaseException subclass."""


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


@register_task(name="escaper", version=1, max_concurrent=None)
async def escaper(**kwargs: Any) -> Any:
    """Ends outside the usual handlers: ``how`` = base, unprintable or deep."""
    how = kwargs.get("how")
    if how == "base":
        raise Escape("out of band")
    if how == "unprintable":
        raise Unprintable()
    nested: dict[str, Any] = {}
    for _ in range(100_000):  # json.dumps meets RecursionError long before the end
        nested = {"n": nested}
    return nested


@register_task(name="blocker", version=1, max_concurrent=None)
async def blocker(**kwargs: Any) -> None:
    """Blocks the worker's event loop (time.sleep) for ``seconds``."""
    import time

    _log_run("start")
    time.sleep(float(kwargs.get("seconds", 60)))  # noqa: ASYNC251 - the point of the task


# Workflows: a step reports what its parents did (task.parents, task.parent_results).
@register_task(name="step", version=1, max_concurrent=None)
async def step(**kwargs: Any) -> dict[str, Any]:
    if kwargs.get("summary"):
        return {"parents": len(task.parents), "inputs": len(task.parent_results)}
    return {"value": kwargs.get("value"), "parents": task.parents, "inputs": task.parent_results}


@register_task(name="gate", version=1, max_concurrent=None)
async def gate(**kwargs: Any) -> dict[str, Any]:
    """Fails until the test opens the gate (sets ``test:gate``)."""
    client = _redis()
    try:
        if not await client.get("test:gate"):
            raise RuntimeError("the gate is closed")
    finally:
        await client.aclose()
    return {"value": "through"}
