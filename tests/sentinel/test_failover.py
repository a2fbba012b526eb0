"""Sentinel failover under load: every process follows the new master without a restart.

A real Sentinel set (``tests.sentinel_set``): the master is SIGKILLed while the manager
takes submits and a worker subprocess drains them. The manager answers 503 during the
switch and never 500; with ``JOBBERS_SUBMIT_REPLICAS=1`` every acknowledged task survives
the failover and completes, as do tasks submitted after it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jobbers.dev.redis_server import RedisServer
from tests.conftest import eventually
from tests.failover import loading, processes
from tests.procs import figure
from tests.sentinel_set import SentinelSet


async def test_a_killed_master_fails_over_and_acknowledged_work_completes(
    sentinel_set: SentinelSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBBERS_SUBMIT_REPLICAS", "1")
    async with processes(sentinel_set.url, tmp_path) as (state, procs, others):
        async with loading(sentinel_set.url) as load:
            old = sentinel_set.master
            assert old is not None
            killed_port = old.port
            old.stop(kill=True)
            killed_at = time.monotonic()
            await eventually(
                lambda: sentinel_set.master_port() not in (None, killed_port),
                within=20,
                what="the sentinels to promote the replica",
            )
            promoted = time.monotonic() - killed_at
            # The old master's host comes back: Sentinel makes it the new master's replica,
            # so submits that WAIT for one replica are acknowledged again.
            sentinel_set.master = RedisServer(killed_port, old.data_dir, binary=old.binary).start()
            await eventually(
                lambda: load.acked_after(killed_at) >= 20,
                within=30,
                what="20 submits acknowledged after the failover",
            )
        figure("sentinel: master SIGKILL -> every sentinel names the new master", promoted)
        await load.after_failover("sentinel", killed_at, killed_at, state, procs, others)
