"""Failover under load, for the Sentinel and Cluster suites: the processes, the submits
that go on through the switch, and what must hold after it."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import httpx

from jobbers.models.task import TaskStatus
from jobbers.store.facade import StateManager
from tests.conftest import eventually
from tests.procs import Procs, figure, live_workers
from tests.server.conftest import client_for, make_app


class Servers(Protocol):
    """A set of Redis servers a test starts and stops (``ClusterSet``, ``SentinelSet``)."""

    def start(self) -> Servers: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Servers)


def started(servers: S) -> Iterator[S]:
    """The body of a fixture: ``servers`` started, and stopped after the test."""
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


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

    async def after_failover(
        self,
        suite: str,
        killed_at: float,
        takeover: float,
        state: StateManager,
        procs: Procs,
        others: list[subprocess.Popen[bytes]],
    ) -> None:
        """Report the first submit acknowledged after ``takeover`` (from ``killed_at``) and
        the 503s, then check that every acknowledged task completed and every process lived."""
        first_ack = min(when for when, _ in self.acked if when > takeover) - killed_at
        figure(f"{suite}: master SIGKILL -> first submit acknowledged with WAIT 1", first_ack)
        figure(f"{suite}: 503 answers during the switch", self.codes.get(503, 0), "")
        await self.all_completed(state, procs.logs)
        self.assert_survived(procs, others)

    def assert_survived(self, procs: Procs, others: list[subprocess.Popen[bytes]]) -> None:
        """The switch was seen (503s, never another error) and every process lived through it."""
        assert set(self.codes) <= {200, 201, 503}, self.codes
        assert self.codes.get(503), "the switch was never seen"
        assert procs.procs[0].poll() is None, "the worker did not survive the failover"
        assert [p.poll() for p in others] == [None, None], procs.logs()
        assert "Traceback" not in procs.logs()


@contextlib.asynccontextmanager
async def processes(
    url: str, tmp_path: Path
) -> AsyncIterator[tuple[StateManager, Procs, list[subprocess.Popen[bytes]]]]:
    """A live worker (4 slots), a scheduler and a cleaner on ``url``, and a StateManager;
    the processes (as ``Procs``) and the others than the worker; all stopped afterwards."""
    state = StateManager.from_url(url)
    await state.ensure_defaults()
    procs = Procs(url, tmp_path)
    try:
        procs.worker(concurrency=4)
        others = [procs.scheduler(), procs.cleaner()]
        await live_workers(state, 1)
        yield state, procs, others
    finally:
        procs.close()
        await state.close()


@contextlib.asynccontextmanager
async def loading(url: str) -> AsyncIterator[Load]:
    """An in-process manager on ``url`` taking submits one after another until the block
    ends, 20 of them acknowledged before it starts."""
    async with client_for(make_app(url)) as client:
        load = Load(client)
        task = asyncio.create_task(load.run())
        try:
            await eventually(lambda: len(load.acked) >= 20, within=15, what="20 acked submits")
            yield load
        except BaseException:
            task.cancel()
            raise
        finally:
            load.stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task
