"""The StateManager verbs of the running system: workers, the scheduler and the cleaner.

Every verb that touches a started task carries the run id it was claimed with. The
scripts compare it with the task's current run id, so a worker that lost its lease can
never overwrite the outcome of the run that replaced it (fencing).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from jobbers.models.task import TaskStatus
from jobbers.store.codec import decode_claim, decode_counts, decode_finish, decode_worker_beat
from jobbers.store.keys import Keys
from jobbers.store.lane import Lane, LaneBusy
from jobbers.store.protocol import BeatResult, ClaimResult, Outcome, RunOutcome, TaskBeatReply
from jobbers.store.protocol import ClaimedTask as ClaimedTask  # where workers import it from
from jobbers.store.scripts import Scripts
from jobbers.store.verbs import mapped_errors, store_verbs

FinishArgs = tuple[str, str, str, str, str]

# A lone UTF-16 surrogate ("\udcff", which JSON text may carry in an escape): json.dumps
# writes it as an escape that Redis's cjson refuses to decode, so one such error message
# would fail the finish script of its whole batch.
_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, so Redis can store it."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def safe_entry(value: Any) -> Any:
    """A history entry (or results) with its strings made safe (``safe_text``), at any depth."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_text(str(k)): safe_entry(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_entry(v) for v in value]
    return value


def connection_name(worker_id: str) -> str:
    """The name a worker gives its Redis connections (CLIENT SETNAME), found by CLIENT LIST."""
    return f"jobbers:w:{worker_id}"


@dataclass(frozen=True)
class ConnectionScan:
    """One look at the workers' connections (``scan_worker_connections``)."""

    server: str  # the server's run_id: it changes on a restart or a failover
    absent: dict[str, str]  # worker id -> started_at: registered, named, no connection open


def _claim_argv(
    worker_id: str,
    queue: str,
    n: int,
    known: Mapping[str, tuple[int, int, int]],
    lookahead: int,
    config_version: int | None,
) -> list[Any]:
    version = "" if config_version is None else str(config_version)
    return [worker_id, queue, n, max(lookahead, n), json.dumps(known), version]


async def _hints(pubsub: PubSub) -> AsyncIterator[str]:
    with mapped_errors():
        async for message in pubsub.listen():
            yield str(message.get("data", ""))


@store_verbs
class Runs:
    """Worker, scheduler and cleaner verbs; ``StateManager`` owns one and offers its verbs."""

    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts, fetch_lane: Lane) -> None:
        self.redis = redis
        self.keys = keys
        self.scripts = scripts
        # The fetch loop's own connection (see ``jobbers.store.lane``): the blocking wait and
        # the claims of a worker, one at a time.
        self.fetch_lane = fetch_lane

    # ---------------------------------------------------------------- workers

    async def register_worker(self, worker_id: str, lease_ms: int, info: dict[str, Any]) -> int:
        """Register a worker with a lease on the Redis clock; returns the config version."""
        res = await self.scripts.run(
            "worker_beat", worker_id, lease_ms, "register", json.dumps(info), "[]", 0
        )
        return decode_worker_beat(res).config_version

    async def worker_heartbeat(
        self,
        worker_id: str,
        lease_ms: int,
        runs: list[tuple[str, str]],
        max_recoveries: int | None = None,
        grace_ms: int = 10_000,
    ) -> BeatResult:
        """Renew a worker's lease and learn which runs it lost and which cancels wait.

        In-flight tasks the worker no longer knows (older than ``grace_ms``) are recovered
        under the same ``max_recoveries`` cap as a dead worker's (None: no cap).
        """
        cap = "" if max_recoveries is None else str(max_recoveries)
        res = await self.scripts.run(
            "worker_beat", worker_id, lease_ms, "beat", "{}", json.dumps(runs), grace_ms, cap
        )
        return decode_worker_beat(res)

    async def set_worker_queues(self, worker_id: str, queues: Sequence[str]) -> None:
        """Record the queues a worker reads now (its hash's ``queues``, shown by ``workers``)."""
        await self.redis.hset(self.keys.worker(worker_id), "queues", json.dumps(list(queues)))

    @contextlib.asynccontextmanager
    async def hint_listener(self) -> AsyncIterator[AsyncIterator[str]]:
        """Subscribe to the hints channel (``keys.events``): ``cancel:{id}`` and ``config``.

        Subscribed on entry, so a caller that catches up after entering misses nothing; the
        messages that follow come from the iterator it yields. Hints are never the source of
        truth (a heartbeat catches up on any that are lost). An outage, on entry or while
        iterating, raises StoreUnavailable, as every verb does; leaving closes the
        subscription's connection.
        """
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            with mapped_errors():
                await pubsub.subscribe(self.keys.events)
            yield _hints(pubsub)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def deregister_worker(self, worker_id: str) -> str:
        """Remove a worker; anything it still holds is recovered at once."""
        return str(await self.scripts.run("worker_exit", worker_id))

    async def claim(
        self,
        worker_id: str,
        queue: str,
        n: int,
        known: Mapping[str, tuple[int, int, int]],
        lookahead: int = 64,
        config_version: int | None = None,
    ) -> ClaimResult:
        """Atomically take up to ``n`` tasks of ``queue`` (see ``lua/claim.lua``).

        ``known`` maps ``name@version`` to the worker's offer for the type: a
        ``ClaimSpec`` (max heartbeat ms, dlq 0/1, free slots or -1).
        With ``config_version``, nothing is claimed (status ``config``) once the queues'
        configuration has moved past it.
        """
        argv = _claim_argv(worker_id, queue, n, known, lookahead, config_version)
        return decode_claim(await self.scripts.run_on(self.fetch_lane, "claim", *argv))

    async def wait_and_claim(
        self,
        worker_id: str,
        queue: str,
        n: int,
        known: Mapping[str, tuple[int, int, int]],
        wake_key: str,
        block_s: float,
        config_version: int,
        lookahead: int = 64,
        types: Sequence[str] = (),
    ) -> ClaimResult:
        """Block on ``queue``'s doorbell (or ``wake_key``), then claim, in one round trip.

        The claim travels behind the blocking pop on the same connection, so Redis runs it
        the moment the pop returns (a bell, the wake key or the timeout alike): an idle
        worker starts a new task one round trip after its submit, not two. A claim sent
        ahead may meet changed limits; ``config_version`` makes it claim nothing then.
        ``types``: the capped types the worker has a free slot for, whose own doorbells
        (rung by a claim that left them at another worker's cap) are waited on too.
        """
        argv = _claim_argv(worker_id, queue, n, known, lookahead, config_version)
        bells = [self.keys.bell(queue), *(self.keys.bell(queue, t) for t in types)]
        wait = ("BZPOPMIN", *bells, wake_key, block_s)
        try:
            _, res = await self.fetch_lane.execute([wait, self.scripts.command("claim", *argv)])
        except LaneBusy:
            pipe = self.redis.pipeline(transaction=False)
            pipe.bzpopmin([*bells, wake_key], timeout=block_s)
            self.scripts.send(pipe, "claim", *argv)
            _, res = await pipe.execute(raise_on_error=False)
        if isinstance(res, redis.exceptions.NoScriptError):
            # A restarted Redis has an empty script cache: run loads the script.
            res = await self.scripts.run("claim", *argv)
        elif isinstance(res, Exception):
            raise res
        return decode_claim(res)

    async def wait_for_work(
        self, queues: list[str], wake_key: str, block_s: float, types: Sequence[str] = ()
    ) -> str | None:
        """Block until one of ``queues`` rings its doorbell; the queue name, or None.

        ``types`` as in ``wait_and_claim``: each queue's bells of those types count too.
        """
        keys = [self.keys.bell(q, t) for q in queues for t in (None, *types)] + [wake_key]
        reply = await self.redis.bzpopmin(keys, timeout=block_s)
        if not reply:
            return None
        key = str(reply[0])
        bell_prefix = self.keys.bell("")
        if not key.startswith(bell_prefix):
            return None
        return key[len(bell_prefix) :].split(":", 1)[0]  # queue names hold no ':'

    async def wake(self, wake_key: str) -> None:
        """Interrupt a blocked ``wait_for_work`` that listens on ``wake_key``."""
        await self.redis.zadd(wake_key, {"w": 0})

    # ---------------------------------------------------------------- runs

    async def task_heartbeat(
        self, task_id: str, run_id: str, progress: float | None = None, message: str | None = None
    ) -> TaskBeatReply:
        """Record a heartbeat (and progress); go on (``OK``), or why the run must stop."""
        return TaskBeatReply(
            await self.scripts.run(
                "task_beat",
                task_id,
                run_id,
                "" if progress is None else repr(float(progress)),
                "" if message is None else safe_text(message[:200]),
            )
        )

    @staticmethod
    def outcome_args(
        task_id: str, run_id: str, outcome: RunOutcome, payload: str = "", entry: Any = None
    ) -> FinishArgs:
        """The five script arguments of one outcome (see ``lua/finish.lua``)."""
        return (task_id, run_id, outcome, payload, json.dumps(safe_entry(entry)) if entry else "")

    async def finish_many(self, outcomes: Sequence[FinishArgs]) -> list[Outcome]:
        """Record many outcomes in one round trip; each is fenced on its own run id."""
        res = await self.scripts.run("finish", *[a for args in outcomes for a in args])
        return decode_finish(res)

    async def _finish(
        self, task_id: str, run_id: str, outcome: RunOutcome, payload: str, entry: Any
    ) -> Outcome:
        [result] = await self.finish_many(
            [self.outcome_args(task_id, run_id, outcome, payload, entry)]
        )
        return result

    async def complete(self, task_id: str, run_id: str, results: dict[str, Any]) -> Outcome:
        """The run returned: store its results and mark it completed."""
        return await self._finish(task_id, run_id, RunOutcome.COMPLETED, json.dumps(results), None)

    async def schedule_retry(
        self, task_id: str, run_id: str, delay: float | None, entry: dict[str, Any]
    ) -> Outcome:
        """The run failed in an expected way: re-queue now (None) or after ``delay`` s."""
        delay_ms = -1 if delay is None else int(delay * 1000)
        return await self._finish(task_id, run_id, RunOutcome.RETRIED, str(delay_ms), entry)

    async def fail(self, task_id: str, run_id: str, entry: dict[str, Any]) -> Outcome:
        """The run failed for good: ``failed``, and in the DLQ under SAVE."""
        return await self._finish(task_id, run_id, RunOutcome.FAILED, "", entry)

    async def record_cancelled(self, task_id: str, run_id: str, entry: dict[str, Any]) -> Outcome:
        """The run stopped because of a cancel request."""
        return await self._finish(task_id, run_id, RunOutcome.CANCELLED, "", entry)

    async def record_stopped(self, task_id: str, run_id: str, entry: dict[str, Any]) -> Outcome:
        """The run was stopped by a worker shutdown (policy STOP): ``stalled``."""
        return await self._finish(task_id, run_id, RunOutcome.STOPPED, "", entry)

    async def resubmit_interrupted(
        self, task_id: str, run_id: str, entry: dict[str, Any] | None
    ) -> Outcome:
        """The run was interrupted by a shutdown (policy RESUBMIT): back on its queue."""
        return await self._finish(task_id, run_id, RunOutcome.RESUBMITTED, "", entry)

    # ---------------------------------------------------------------- scheduler

    async def promote_due(self, limit: int = 500) -> tuple[int, int]:
        """Move due retries onto their queues: (promoted, ms until the next is due or -1)."""
        promoted, next_ms = decode_counts(await self.scripts.run("promote", limit))
        return promoted, next_ms

    async def wait_for_schedule(self, block_s: float) -> None:
        """Block until a retry is scheduled or ``block_s`` seconds pass."""
        await self.redis.bzpopmin([self.keys.sched_bell], timeout=block_s)

    # ---------------------------------------------------------------- cleaner

    async def reap_dead_workers(self, max_recoveries: int, limit: int = 20) -> tuple[int, int, int]:
        """Recover tasks of workers whose lease lapsed: (workers, requeued, stalled)."""
        workers, requeued, stalled = decode_counts(
            await self.scripts.run("reap", max_recoveries, limit)
        )
        return workers, requeued, stalled

    async def scan_worker_connections(self) -> ConnectionScan:
        """Redis's own view of the workers' connections: one CLIENT LIST, O(connections).

        A worker that names its connections (``connection_name``) registers that name;
        one registered with none of them open is gone (SIGKILL, OOM kill, a lost host):
        its socket closed with it. Workers that name none are left to their lease.
        """
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        pipe.client_list(_type="normal")
        pipe.info("server")
        pipe.zrange(k.workers, 0, -1)
        clients, info, ids = await pipe.execute()
        names = {c.get("name") for c in clients}
        pipe = self.redis.pipeline(transaction=False)
        for wid in ids:
            pipe.hmget(k.worker(wid), "conn", "started_at")
        absent = {}
        for wid, (conn, started_at) in zip(ids, await pipe.execute(), strict=True):
            if conn and started_at and conn not in names:
                absent[wid] = started_at
        return ConnectionScan(server=str(info.get("run_id", "")), absent=absent)

    async def reap_disconnected_workers(
        self, workers: dict[str, str], max_recoveries: int
    ) -> tuple[int, int, int]:
        """Recover the tasks of ``workers`` (id -> the started_at they were seen with) now.

        The same recovery as a lapsed lease (``reap.lua``): fencing by run id, the
        ``max_recoveries`` cap, a pending cancel wins. A worker registered again since is
        left alone. Returns (workers, requeued, stalled).
        """
        argv = [x for pair in workers.items() for x in pair]
        reaped, requeued, stalled = decode_counts(
            await self.scripts.run("reap", max_recoveries, 0, *argv)
        )
        return reaped, requeued, stalled

    async def mark_stalled(
        self, limit: int = 500, postpone_ms: int = 0, max_gap_ms: int = 0
    ) -> int:
        """Mark ``stalled`` the started tasks whose heartbeat is overdue.

        Heartbeat deadlines first move later by ``postpone_ms`` (an outage the caller saw)
        or, with ``max_gap_ms``, by the time since the last pass when that is longer
        (an outage seen on the Redis clock): no task could beat while Redis was away.
        """
        return int(await self.scripts.run("stall", limit, max(0, postpone_ms), max_gap_ms))

    async def apply_retention(
        self, status: TaskStatus, max_age_s: float, limit: int = 500, tombstone_s: int = 7 * 86400
    ) -> int:
        """Delete up to ``limit`` tasks of a terminal status older than ``max_age_s``."""
        return int(
            await self.scripts.run(
                "retention", status.value, int(max_age_s * 1000), limit, tombstone_s
            )
        )
