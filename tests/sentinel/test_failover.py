"""Sentinel failover under load: every process follows the new master without a restart.

A real Sentinel set (``tests.sentinel_set``): the master is SIGKILLed while the manager
takes submits and a worker subprocess drains them. The manager answers 503 during the
switch and never 500; with ``JOBBERS_SUBMIT_REPLICAS=1`` every acknowledged task survives
the failover and completes, as do tasks submitted after it.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobbers.dev.redis_server import RedisServer
from jobbers.models.task import TaskStatus
from jobbers.store.facade import StateManager
from tests.conftest import eventually
from tests.procs import Procs, figure, live_workers
from tests.sentinel_set import SentinelSet
from tests.server.conftest import client_for, make_app

BODY = {"name": "add", "version": 1, "parameters": {"a": 1, "b": 2}}


class Load:
    """Submits through the manager, one after another, recording every answer."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.codes: dict[int, int] = {}
        self.acked: list[tuple[float, str]] = []  # (when, task id)
        self.stop = asyncio.Event()

    def acked_after(self, moment: float) -> int:
        return sum(1 for when, _ in self.acked if when > moment)

    async def run(self) -> None:
        while not self.stop.is_set():
            response = await self.client.post("/submit-task", json=BODY)
            self.codes[response.status_code] = self.codes.get(response.status_code, 0) + 1
            if response.status_code in (200, 201):
                self.acked.append((time.monotonic(), response.json()["task"]["id"]))
                if self.acked:  # a read too, so the switch is seen by both kinds of call
                    status = await self.client.get(f"/task-status/{self.acked[0][1]}")
                    self.codes[status.status_code] = self.codes.get(status.status_code, 0) + 1
            else:
                await asyncio.sleep(0.05)  # pacing while the manager answers 503

    async def all_completed(self, state: StateManager, logs: Callable[[], str]) -> None:
        """Wait until every acknowledged task has completed: none was lost in the switch.

        On failure, says how many of them are in which status (or missing) and the logs.
        """
        ids = [tid for _, tid in self.acked]
        seen: dict[str, int] = {}

        async def completed() -> bool:
            tasks = await state.get_tasks(ids)
            seen.clear()
            seen["missing"] = len(ids) - len(tasks)
            for t in tasks:
                seen[t.status] = seen.get(t.status, 0) + 1
            return seen == {"missing": 0, TaskStatus.COMPLETED: len(ids)}

        try:
            await eventually(completed, within=20, what="every acknowledged task completed")
        except AssertionError:
            raise AssertionError(f"acknowledged tasks by status: {seen}\n{logs()}") from None

    def assert_survived(self, procs: Procs, others: list[subprocess.Popen[bytes]]) -> None:
        """The switch was seen (503s, never another error) and every process lived through it."""
        assert set(self.codes) <= {200, 201, 503}, self.codes
        assert self.codes.get(503), "the switch was never seen"
        assert procs.procs[0].poll() is None, "the worker did not survive the failover"
        assert [p.poll() for p in others] == [None, None], procs.logs()
        assert "Traceback" not in procs.logs()


async def test_a_killed_master_fails_over_and_acknowledged_work_completes(
    sentinel_set: SentinelSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sentinel_set.url
    monkeypatch.setenv("JOBBERS_SUBMIT_REPLICAS", "1")
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    procs = Procs(url, tmp_path)
    load_task: asyncio.Task[Any] | None = None
    try:
        procs.worker(concurrency=4)
        others = [procs.scheduler(), procs.cleaner()]
        await live_workers(state, 1)
        async with client_for(make_app(url)) as client:
            load = Load(client)
            load_task = asyncio.create_task(load.run())
            await eventually(lambda: len(load.acked) >= 20, within=15, what="20 acked submits")

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
            load.stop.set()
            await load_task
        first_ack = min(when for when, _ in load.acked if when > killed_at) - killed_at
        figure("sentinel: master SIGKILL -> every sentinel names the new master", promoted)
        figure("sentinel: master SIGKILL -> first submit acknowledged with WAIT 1", first_ack)
        figure("sentinel: 503 answers during the switch", load.codes.get(503, 0), "")

        await load.all_completed(state, procs.logs)
        load.assert_survived(procs, others)
    finally:
        if load_task is not None and not load_task.done():
            load_task.cancel()
        procs.close()
        await state.close()
