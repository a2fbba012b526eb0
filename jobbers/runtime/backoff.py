"""Retrying through Redis trouble: what counts as trouble, and how long to pause between tries.

Every loop that must outlive an outage (the worker's registration, fetcher, listener and
outcome writes, the scheduler's steps) retries the same way: ``retry_redis``, on tenacity,
pauses 0.2 s after the first failure, doubling up to ``RETRY_MAX_S``, and a later call
starts again from 0.2 s. The cleaner's loops keep their own fixed interval, but share what
counts as trouble (``RETRIED``, ``is_transient``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import redis.exceptions

from jobbers.errors import StoreUnavailable

if TYPE_CHECKING:
    from tenacity import RetryCallState

T = TypeVar("T")

REDIS_ERRORS = (
    StoreUnavailable,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
)
# What a loop that must outlive Redis trouble retries: the outages above, plus error
# replies (OOM under maxmemory, CLIENT UNBLOCK ... ERROR, a script killed as BUSY), which
# would otherwise end the loop and leave a worker that looks alive but no longer works.
RETRIED = (*REDIS_ERRORS, redis.exceptions.ResponseError)
# The first pause after a failure; each next one is twice as long, up to RETRY_MAX_S.
RETRY_FIRST_S = 0.2
# The longest pause between two retries of a loop while Redis is away: work resumes within
# about this long once it is back, whatever the outage lasted (10 s made a worker sit idle
# for up to 10 s after a long outage), at the cost of one log line per loop per pause.
RETRY_MAX_S = 2.0
# Error replies that say "not now" (memory, a busy script, a loading or read-only server):
# retried as long as they last. Any other error reply to an outcome is the script refusing
# it, which repeats the same way every time (see ``Runner.record``).
TRANSIENT_REPLIES = ("OOM", "BUSY", "LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "NOREPLICAS")


def is_transient(exc: BaseException) -> bool:
    """True for an error reply that a later attempt may not meet (see TRANSIENT_REPLIES).

    redis-py strips the code of the replies it has a class for (OOM, READONLY...) from
    the message and keeps it as ``status_code``; others keep it at the message's start.
    """
    if isinstance(exc, redis.exceptions.OutOfMemoryError | redis.exceptions.ReadOnlyError):
        return True
    code = getattr(exc, "status_code", None) or str(exc).split(" ", 1)[0]
    return code in TRANSIENT_REPLIES


def is_retried(exc: BaseException) -> bool:
    """The default of ``retry_redis``: Redis trouble of any kind (``RETRIED``)."""
    return isinstance(exc, RETRIED)


def _never() -> bool:
    return False


async def retry_redis(
    call: Callable[[], Awaitable[T]],
    on_pause: Callable[[BaseException, float], None],
    *,
    retry_if: Callable[[BaseException], bool] = is_retried,
    stop_if: Callable[[], bool] = _never,
) -> T:
    """Await ``call()`` until it returns, pausing after each failure ``retry_if`` accepts.

    ``on_pause(error, seconds)`` is told of each pause (the loops log it). An error that
    ``retry_if`` refuses, or any error once ``stop_if()`` is true (a worker exiting), is
    raised. The first attempt runs outside tenacity: outcomes and claims go through here,
    and a call that succeeds, nearly every one, should not pay tenacity's ~30 us of
    bookkeeping (nor its 5 ms import at boot); so the first pause is taken here, and
    tenacity's waits start at the second.
    """
    try:
        return await call()
    except Exception as exc:
        if not retry_if(exc) or stop_if():
            raise
        on_pause(exc, RETRY_FIRST_S)
    await asyncio.sleep(RETRY_FIRST_S)
    # Imported on the first failure: a worker that never meets one (most boots) skips it.
    from tenacity import AsyncRetrying, retry_if_exception, wait_exponential

    def pause(retry_state: RetryCallState) -> None:
        assert retry_state.outcome is not None and retry_state.next_action is not None
        error = retry_state.outcome.exception()
        assert error is not None
        on_pause(error, retry_state.next_action.sleep)

    retrying = AsyncRetrying(
        retry=retry_if_exception(lambda exc: retry_if(exc) and not stop_if()),
        wait=wait_exponential(multiplier=2 * RETRY_FIRST_S, max=RETRY_MAX_S),
        before_sleep=pause,
        reraise=True,
    )
    return await retrying(call)
