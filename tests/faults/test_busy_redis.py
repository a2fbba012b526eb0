"""A Redis held by a long script: /stats never holds it long, and BUSY is a clear 503."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.exceptions
from redis import Redis as SyncRedis

from jobbers.dev.redis_server import RedisServer, free_port
from jobbers.models.queue import QueueConfig
from jobbers.store.facade import StateManager
from tests.conftest import eventually
from tests.server.conftest import client_for, make_app

# Spins on the server's clock for ARGV[1] ms: the "busy script" of another client.
SPIN = """
local t = redis.call('TIME')
local stop = t[1] * 1000 + t[2] / 1000 + tonumber(ARGV[1])
repeat t = redis.call('TIME') until t[1] * 1000 + t[2] / 1000 > stop
return 1
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private Redis, so its slow log and limits are this test's alone."""
    started = RedisServer(free_port(), tmp_path / "redis").start()
    try:
        yield started
    finally:
        started.stop()


async def test_stats_over_10k_queues_never_holds_redis_for_100ms(server: RedisServer) -> None:
    state = StateManager.from_url(server.url)
    admin = SyncRedis.from_url(server.url, decode_responses=True)
    try:
        await state.ensure_defaults()
        configs = {f"q{i:05d}": QueueConfig(name=f"q{i:05d}") for i in range(10_000)}
        admin.hset(
            state.keys.queues,
            mapping={name: c.model_dump_json(exclude_none=True) for name, c in configs.items()},
        )
        admin.config_set("slowlog-log-slower-than", 100_000)  # microseconds
        admin.slowlog_reset()
        stats = await state.stats(minutes=30)
        assert len(stats.queues) == 10_001
        assert [q.name for q in stats.queues][:2] == ["default", "q00000"]
        slow = [" ".join(map(str, entry["command"].split()[:2])) for entry in admin.slowlog_get()]
        assert slow == [], slow
    finally:
        admin.close()
        await state.close()


async def test_a_busy_redis_is_503_with_a_clear_detail_and_recovers(server: RedisServer) -> None:
    app = make_app(server.url)
    admin = SyncRedis.from_url(server.url, decode_responses=True)
    spinner = SyncRedis.from_url(server.url, decode_responses=True)
    try:
        async with client_for(app) as client:
            assert (await client.get("/stats")).status_code == 200  # connected, defaults made
            admin.config_set("busy-reply-threshold", 50)
            busy = threading.Thread(target=spinner.eval, args=(SPIN, 0, 2000))
            busy.start()

            def is_busy() -> bool:
                try:
                    admin.ping()
                except redis.exceptions.ResponseError as exc:
                    return "BUSY" in str(exc)
                return False

            await eventually(is_busy, what="Redis busy with the spinning script")
            refused = await client.get("/stats")
            assert refused.status_code == 503, refused.text
            assert refused.json()["detail"].startswith("Redis is busy running a script")
            assert refused.headers["retry-after"] == "2"
            busy.join(10)
            assert (await client.get("/stats")).status_code == 200
    finally:
        admin.close()
        spinner.close()
        await app.state.runtime.close()
