"""How the store's verbs meet their callers: one error mapping, and delegation to its parts.

Every public coroutine of the store's classes is a verb, and every verb turns a Redis
outage into ``StoreUnavailable`` the same way (``store_op``), so no caller outside the store
has to know redis-py's exception classes to tell "Redis is away" from a bug.
``store_verbs`` applies that mapping to every public coroutine of a class, so a verb added
later cannot be left out; ``Delegated`` puts a part's verbs (``Runs``, ``Schedules``) on
``StateManager``, which owns that part, under their own names.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import redis.exceptions

from jobbers.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")
C = TypeVar("C", bound=type)

# What "Redis is unavailable" is, whichever command met it: no connection (refused, reset,
# a pool that waited too long), no answer in time, a server still loading its data set
# (BusyLoadingError is a ConnectionError) and a master demoted to a read-only replica.
_UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    OSError,
)


def store_op(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn Redis connection failures into StoreUnavailable, once, at the core's edge.

    The wrapper says it maps (``is_mapped``), which the tests check for every verb.
    """
    if is_mapped(fn):
        return fn

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    wrapper.__store_op__ = True  # type: ignore[attr-defined]
    return wrapper


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    """``store_op``'s mapping for a block: for the verbs that are not one coroutine call
    (a subscription and its stream of messages)."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise _unavailable(exc) from exc


def _unavailable(exc: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"Redis is unreachable: {exc}")


def is_mapped(fn: object) -> bool:
    """True when ``fn`` (a function or a bound method) goes through ``store_op``."""
    return bool(getattr(fn, "__store_op__", False))


def store_verbs(cls: C) -> C:
    """Put ``store_op`` on every public coroutine ``cls`` defines: all its verbs, uniformly."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, store_op(member))
    return cls


class Delegated(Generic[S, P, R]):
    """A verb of the part named ``part`` (an attribute of the owner), under the same name.

    ``claim = Delegated("runs", Runs.claim)`` on ``StateManager`` makes ``state.claim(...)``
    call ``state.runs.claim(...)`` with the same signature, for mypy too. The bound method
    is kept on the instance at first use, so later calls cost a plain attribute lookup.
    """

    def __init__(self, part: str, verb: Callable[Concatenate[S, P], R]) -> None:
        self.part = part
        self.verb = verb
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Delegated[S, P, R]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Callable[P, R]: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        bound = getattr(getattr(obj, self.part), self.name)
        obj.__dict__[self.name] = bound
        return bound
