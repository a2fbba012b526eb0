"""The latency path's trimmings: the lanes (``jobbers.store.lane``), the pruned prelude."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from jobbers.dev.redis_server import RedisServer, free_port
from jobbers.models.task import Task
from jobbers.store.facade import StateManager
from jobbers.store.lane import Lane, LaneBusy
from jobbers.store.runs import _claim_argv
from jobbers.store.scripts import SCRIPT_NAMES, script_source
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


def test_each_script_carries_every_helper_it_calls_and_no_other() -> None:
    """The pruned prelude (``scripts._used_helpers``) keeps what a script reaches."""
    folder = resources.files("jobbers.store") / "lua"
    helpers = set(re.findall(r"^local function (\w+)", (folder / "common.lua").read_text(), re.M))
    for name in SCRIPT_NAMES:
        source = script_source(name)
        defined = set(re.findall(r"^local function (\w+)", source, re.M))
        called = {h for h in helpers if re.search(rf"\b{h}\(", source)}
        assert called <= defined, (name, called - defined)
    assert "dead_letter" not in script_source("submit")
    assert "dead_letter" in script_source("finish")
