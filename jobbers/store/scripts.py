"""The Lua scripts of ``jobbers/store/lua``, each prefixed with the ``common.lua`` helpers it
declares, and registered once.

redis-py's ``Script`` runs EVALSHA and falls back to EVAL after NOSCRIPT (a restarted
Redis has an empty script cache), so callers never see that error.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import redis.exceptions
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from jobbers.store.lane import Lane, LaneBusy
from jobbers.store.settings import store_env

SCRIPT_NAMES = (
    "submit", "claim", "finish", "task_beat", "worker_beat", "worker_exit", "reap", "stall",
    "cancel", "requeue", "promote", "purge", "dlq_remove", "stats", "retention", "migrate",
    "queue_set", "queue_delete",
    # Schedules (issue 15 §2)
    "sched_due", "sched_fire", "sched_put",
    "workflow", "parents",
)  # fmt: skip


EVENTS_MAXLEN_ENV = "JOBBERS_EVENTS_MAXLEN"
EVENTS_MAXLEN_DEFAULT = 10_000
_EVMAX = re.compile(r"^local EVMAX = \d+$", re.MULTILINE)


def events_maxlen() -> int:
    """The event stream's cap from JOBBERS_EVENTS_MAXLEN (default 10,000 entries; 0 = none).

    Read when a process registers its scripts: every process that changes statuses (the
    workers, the manager, the cleaner) should be given the same value.
    """
    return store_env().events_maxlen


@cache
def script_source(name: str, events_max: int = EVENTS_MAXLEN_DEFAULT) -> str:
    """The full text of script ``name``: the common helpers it declares, then its body.

    A body that starts with a shebang (``#!lua flags=allow-oom``) keeps it as the first
    line: Redis reads script flags only there. Without flags a shebang still matters: such
    a script is refused whole under OOM instead of failing at its first denied write.
    ``events_max`` is the event stream's cap, written into the text (a constant costs the
    scripts nothing per call, where an argument or a key would).
    """
    folder = resources.files("jobbers.store") / "lua"
    body = (folder / f"{name}.lua").read_text()
    shebang = ""
    if body.startswith("#!"):
        shebang, body = body.split("\n", 1)
        shebang += "\n"
    common = _EVMAX.sub(f"local EVMAX = {int(events_max)}", (folder / "common.lua").read_text())
    try:
        prelude = prelude_for(common, declared_helpers(body))
    except ValueError as exc:
        raise ValueError(f"{name}.lua: {exc}") from None
    return shebang + prelude + "\n" + body


_HELPER = re.compile(r"^-- helper: (\S+)\n", re.MULTILINE)
_USES = re.compile(r"^-- uses:(.*)$", re.MULTILINE)


def common_helpers(common: str) -> tuple[str, dict[str, str]]:
    """``common.lua`` cut into its head (sent to every script) and its helpers by name.

    A helper runs from its ``-- helper: <name>`` line to the next one, blank lines
    included; the dict keeps the file's order, because a Lua local must be defined before
    the helpers that call it.
    """
    pieces = _HELPER.split(common)
    return pieces[0], dict(zip(pieces[1::2], pieces[2::2], strict=True))


def declared_helpers(body: str) -> set[str]:
    """The helpers a script's ``-- uses:`` lines name (comma-separated, over any lines)."""
    return {n for line in _USES.findall(body) for n in line.replace(",", " ").split()}


def prelude_for(common: str, uses: set[str]) -> str:
    """The head of ``common`` and the helpers in ``uses``, in ``common``'s order.

    Why a list and not every helper: a script runs its prelude on every call, and on an
    idle server each closure it creates is paid cold; the submit and claim scripts are on
    the submit-to-start path. A name that is no helper is an error, so a typo cannot leave
    a helper out silently (tests/test_lane.py checks each list against what the script
    calls).
    """
    head, helpers = common_helpers(common)
    unknown = uses.difference(helpers)
    if unknown:
        raise ValueError(f"uses unknown helpers: {', '.join(sorted(unknown))}")
    return head + "".join(
        f"-- helper: {name}\n{text}" for name, text in helpers.items() if name in uses
    )


class Scripts:
    """Registered scripts for one Redis client, called as ``await scripts.run(name, *argv)``."""

    def __init__(self, redis: Redis, prefix: str, events_max: int | None = None) -> None:
        self._prefix = prefix
        cap = events_maxlen() if events_max is None else events_max
        self.events_max = cap
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(script_source(name, cap)) for name in SCRIPT_NAMES
        }

    async def run(self, name: str, *argv: Any, client: Any = None) -> Any:
        """Run script ``name`` with the prefix as ARGV[1] and ``argv`` after it."""
        return await self._scripts[name](keys=[], args=[self._prefix, *argv], client=client)

    def command(self, name: str, *argv: Any) -> tuple[Any, ...]:
        """Script ``name`` as a bare EVALSHA command, for a ``Lane``."""
        return ("EVALSHA", self._scripts[name].sha, 0, self._prefix, *argv)

    async def run_on(self, lane: Lane, name: str, *argv: Any) -> Any:
        """``run`` over ``lane``; over the pool when the lane is busy or lacks the script."""
        try:
            (res,) = await lane.execute([self.command(name, *argv)])
        except LaneBusy:
            return await self.run(name, *argv)
        if isinstance(res, redis.exceptions.NoScriptError):
            return await self.run(name, *argv)  # loads it (a restarted Redis has none)
        if isinstance(res, Exception):
            raise res
        return res

    def send(self, pipe: Any, name: str, *argv: Any) -> None:
        """Queue script ``name`` on a pipeline as a bare EVALSHA.

        A pipeline given a Script object checks it with SCRIPT EXISTS first, a round trip
        of its own; a caller of ``send`` instead answers NoScriptError by calling ``run``.
        """
        pipe.evalsha(self._scripts[name].sha, 0, self._prefix, *argv)
