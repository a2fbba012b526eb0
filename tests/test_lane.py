"""The latency path's trimmings: the lanes (``jobbers.store.lane``), the pruned prelude."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from jobbers.dev.redis_server import RedisServer, free_port
from jobbers.models.task import Task
from jobbers.store.facade import StateManager
from jobbers.store.keys import Keys
from jobbers.store.lane import Lane, LaneBusy
from jobbers.store.runs import _claim_argv
from jobbers.store.scripts import (
    SCRIPT_NAMES,
    common_helpers,
    declared_helpers,
    prelude_for,
    script_source,
)
from tests.conftest import eventually


@pytest.fixture
async def lane(state: StateManager) -> AsyncIterator[Lane]:
    lane = Lane(state.redis.connection_pool)
    yield lane
    await lane.close()


async def _blocked_clients(state: StateManager) -> int:
    return int((await state.redis.info("clients"))["blocked_clients"])


async def _blocked(state: StateManager, lane: Lane, key: str) -> asyncio.Task[list[Any]]:
    """A lane call parked in BZPOPMIN on ``key``, seen blocked by the server."""
    call = asyncio.create_task(lane.execute([("BZPOPMIN", key, 5)]))

    async def parked() -> bool:
        return await _blocked_clients(state) > 0

    await eventually(parked, within=5, what="the lane's call to block")
    return call


async def test_a_cancelled_call_leaves_no_reply_for_the_next(
    state: StateManager, lane: Lane
) -> None:
    call = await _blocked(state, lane, "lane:bell")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    # The cancelled call's connection is closed: its pop no longer waits, and no late
    # reply can be read as the answer to the next call.
    async def unparked() -> bool:
        return await _blocked_clients(state) == 0

    await eventually(unparked, within=5, what="the cancelled pop to go away")
    await state.redis.zadd("lane:bell", {"m": 1})
    assert await lane.execute([("ECHO", "mine")]) == ["mine"]
    assert await state.redis.zcard("lane:bell") == 1  # nobody popped it


async def test_a_busy_lane_says_so_and_the_script_goes_through_the_pool(
    state: StateManager, lane: Lane
) -> None:
    call = await _blocked(state, lane, "lane:bell")
    with pytest.raises(LaneBusy):
        await lane.execute([("PING",)])
    argv = _claim_argv("nobody", "default", 1, {}, 64, None)
    assert await state.scripts.run_on(lane, "claim", *argv) == ["dead"]
    await state.redis.zadd("lane:bell", {"m": 1})
    assert (await call)[0][:2] == ["lane:bell", "m"]


async def test_error_replies_come_back_in_their_place(state: StateManager, lane: Lane) -> None:
    await state.redis.set("lane:s", "x")
    replies = await lane.execute([("LPUSH", "lane:s", "1"), ("ECHO", "after")])
    assert "WRONGTYPE" in str(replies[0]) and replies[1] == "after"


async def test_submit_reloads_a_flushed_script_cache(state: StateManager) -> None:
    await state.submit_task(Task(name="noop"))  # the lane is connected
    await state.redis.script_flush()
    task = await state.submit_task(Task(name="noop"))
    assert (await state.get_task(task.id)).status == "submitted"


async def test_lanes_reconnect_after_a_redis_restart(tmp_path: Path) -> None:
    server = RedisServer(free_port(), tmp_path / "redis").start()
    state = StateManager.from_url(server.url)
    try:
        await state.ensure_defaults()
        await state.submit_task(Task(name="noop"))
        server.stop(kill=True)
        server.start()
        # The lane's connection died with the server: the first submit after the restart
        # succeeds on a fresh one (the policy retries a connection error), script reloaded.
        task = await state.submit_task(Task(name="noop"))
        assert (await state.get_task(task.id)).status == "submitted"
        claimed = await state.claim("nobody", "default", 1, {"noop@1": (0, 0, -1)})
        assert claimed.status == "dead"
    finally:
        await state.close()
        server.stop(kill=True)


# ---------------------------------------------------------------- helper declarations

# Lua comments and string literals, whose words call nothing.
_LUA_NOISE = re.compile(r"--[^\n]*|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"")
_LUA_NAME = re.compile(r"(?<![\w.:])([A-Za-z_]\w*)(?!\w|\s*=[^=])")
_LUA_DEFINES = re.compile(r"^local (?:function )?(\w+)", re.M)


def lua_names(text: str) -> set[str]:
    """The names ``text`` mentions outside comments and strings (neither a field such as
    ``r.queue`` nor a key such as ``{history = ...}`` is one)."""
    return set(_LUA_NAME.findall(_LUA_NOISE.sub(" ", text)))


def helpers_reached(common: str, body: str) -> set[str]:
    """The helpers of ``common`` that ``body`` calls, directly or through another helper."""
    _, helpers = common_helpers(common)
    owner: dict[str, str] = {}  # every name a helper defines (a function, a constant) -> the helper
    for helper, text in helpers.items():
        owner[helper] = helper
        for defined in _LUA_DEFINES.findall(text):
            owner[defined] = helper
    reached: set[str] = set()
    todo = [body]
    while todo:
        for name in lua_names(todo.pop()):
            found = owner.get(name)
            if found is not None and found not in reached:
                reached.add(found)
                todo.append(helpers[found])
    return reached


def test_each_script_declares_every_helper_it_reaches_and_no_other() -> None:
    """A script's ``-- uses:`` lines name exactly the helpers it calls, transitively."""
    folder = resources.files("jobbers.store") / "lua"
    common = (folder / "common.lua").read_text()
    for name in SCRIPT_NAMES:
        body = (folder / f"{name}.lua").read_text()
        assert declared_helpers(body) == helpers_reached(common, body), name
        source = script_source(name)
        assert set(re.findall(r"^-- helper: (\S+)$", source, re.M)) == declared_helpers(body)
    assert "dead_letter" not in script_source("submit")
    assert "dead_letter" in script_source("finish")


def test_a_helper_with_blank_lines_inside_is_sent_whole() -> None:
    """A helper runs to the next ``-- helper:`` line, blank lines and all."""
    common = (
        "local P = ARGV[1]\n"
        "-- helper: spaced\n"
        "local function spaced(x)\n  local y = x + 1\n\n  return y\nend\n"
        "\n"
        "-- helper: other\n"
        "local function other() return spaced(1) end\n"
    )
    assert prelude_for(common, {"spaced"}) == (
        "local P = ARGV[1]\n"
        "-- helper: spaced\n"
        "local function spaced(x)\n  local y = x + 1\n\n  return y\nend\n\n"
    )
    assert helpers_reached(common, "return other()") == {"other", "spaced"}
    with pytest.raises(ValueError, match="unknown helpers: nothing"):
        prelude_for(common, {"spaced", "nothing"})


async def test_a_helper_with_a_blank_line_runs_in_redis(state: StateManager) -> None:
    """Through Redis, a script that uses the helper and one that does not both run (cut at
    blank lines, the second kept the helper's tail without its head: a syntax error)."""
    common = (
        "local P = ARGV[1]\n"
        "-- helper: spaced\n"
        "local function spaced(x)\n  local y = x + 1\n\n  return y * 10\nend\n"
        "\n"
        "-- helper: plain\n"
        "local function plain(x) return x end\n"
    )
    for body, answer in (
        ("-- uses: spaced\nreturn spaced(4)", 50),
        ("-- uses: plain\nreturn plain(7)", 7),
    ):
        source = prelude_for(common, declared_helpers(body)) + "\n" + body
        assert await state.redis.eval(source, 0, "jb:") == answer


async def test_the_lua_key_helpers_build_the_keys_of_keys_py(state: StateManager) -> None:
    """Each ``K_<name>`` of common.lua builds what ``Keys.<name>`` builds, for every
    argument it takes or leaves out: the two sides of the contract cannot drift."""
    folder = resources.files("jobbers.store") / "lua"
    common = (folder / "common.lua").read_text()
    _, helpers = common_helpers(common)
    keys = Keys("pfx:")
    lua, expected = [], []
    for helper in (h for h in helpers if h.startswith("K_")):
        name = helper[2:]
        attr = inspect.getattr_static(Keys, name)
        if isinstance(attr, property):
            lua.append(helper)
            expected.append(getattr(keys, name))
            continue
        params = list(inspect.signature(attr).parameters.values())[1:]
        samples = [f"{p.name}{i}" for i, p in enumerate(params)]
        optional = [i for i, p in enumerate(params) if p.default is None]
        for mask in range(2 ** len(optional)):  # each optional argument given or left out
            args: list[str | None] = list(samples)
            for bit, i in enumerate(optional):
                if mask >> bit & 1:
                    args[i] = None
            lua.append(f"{helper}({', '.join('nil' if a is None else repr(a) for a in args)})")
            expected.append(getattr(keys, name)(*args))
    body = "return {" + ", ".join(lua) + "}"
    source = prelude_for(common, set(helpers_reached(common, body))) + "\n" + body
    assert await state.redis.eval(source, 0, "pfx:") == expected
