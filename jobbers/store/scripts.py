"""The Lua scripts of ``jobbers/store/lua``, each prefixed with ``common.lua`` and registered once.

redis-py's ``Script`` runs EVALSHA and falls back to EVAL after NOSCRIPT (a restarted
Redis has an empty script cache), so callers never see that error.
"""

from __future__ import annotations

import os
import re
from functools import cache
from importlib import resources
from typing import Any

import redis.exceptions
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from jobbers.store.lane import Lane, LaneBusy

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
    raw = os.environ.get(EVENTS_MAXLEN_ENV, "").strip()
    if not raw:
        return EVENTS_MAXLEN_DEFAULT
    if not raw.isdigit():
        raise ValueError(f"{EVENTS_MAXLEN_ENV} must be a whole number >= 0, not {raw!r}")
    return int(raw)


@cache
def script_source(name: str, events_max: int = EVENTS_MAXLEN_DEFAULT) -> str:
    """The full text of script ``name``: the common helpers it uses, then its body.

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
    return shebang + _used_helpers(common, body) + "\n" + body


_DEFINES = re.compile(r"^local function (\w+)", re.MULTILINE)
_WORD = re.compile(r"\w+")


def _used_helpers(common: str, body: str) -> str:
    """``common`` without the helper blocks that ``body`` never reaches.

    Why: a script runs its prelude on every call, and on an idle server each closure it
    creates is paid cold; the submit and claim scripts are on the submit-to-start path.
    ``common.lua`` is made of blocks parted by blank lines; a block that defines helpers
    stays if the body or a kept block names one of them, every other block stays.
    """
    blocks = common.split("\n\n")
    defines = [set(_DEFINES.findall(block)) for block in blocks]
    keep = [not names for names in defines]
    # The words named so far: a helper is named when one equals it (as ``\bname\b``
    # would find it). One pass over each text, not a regex per helper: every process
    # builds all the scripts at start, and that was a tenth of a worker's boot.
    named = set(_WORD.findall(body))
    changed = True
    while changed:
        changed = False
        for i, names in enumerate(defines):
            if not keep[i] and not names.isdisjoint(named):
                keep[i] = changed = True
                named.update(_WORD.findall(blocks[i]))
    return "\n\n".join(block for block, kept in zip(blocks, keep, strict=True) if kept)


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
