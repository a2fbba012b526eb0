"""The worker's fetcher: which queues it may take from now, its claims and its doorbells.

It blocks on the doorbells of the queues it may take from (no polling) and claims tasks
atomically; full queues, rate-limited and paused queues are left out of the wait, so they
never block the others, and a task type at its cap only waits itself (the claim reads each
type's own list; the type's own doorbell brings it back). Which queue comes first is the
role's strategy (``Fetcher._in_turn``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobbers.errors import RoleNotFound
from jobbers.models.queue import QueueConfig, QueueStrategy, Role
from jobbers.runtime.backoff import REDIS_ERRORS, RETRIED, retry_redis
from jobbers.runtime.runner import Run
from jobbers.store.protocol import ClaimResult, ClaimSpec, ClaimStatus, RunOutcome, TypeSpec

if TYPE_CHECKING:
    from jobbers.runtime.worker import Worker

log = logging.getLogger("jobbers.runtime.worker")  # the worker's logger, as before the split


def _capped_with_room(known: dict[str, ClaimSpec]) -> list[str]:
    """The capped task types with a free slot: the type doorbells a fetcher waits on.

    A claim that leaves tasks of a capped type at its worker's cap rings that type's bell
    instead of the queue's, so that workers at the same cap are not woken in a loop.
    """
    return sorted(key for key, spec in known.items() if spec.free > 0)


@dataclass
class Routing:
    """The queues of the worker's role and their configs."""

    queues: list[str] = field(default_factory=list)
    configs: dict[str, QueueConfig] = field(default_factory=dict)
    version: int = -1
    # How the starts are shared between the queues (issue 15 part 3; see `_in_turn`).
    strategy: QueueStrategy = QueueStrategy.ROUND_ROBIN
    weights: dict[str, int] = field(default_factory=dict)


class Fetcher:
    """Takes tasks for a worker: eligibility, claims and doorbells; the runner runs them."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.state = worker.state
        self.settings = worker.settings
        # Each claimable type's fixed part of the claim's spec: heartbeat ms, DLQ flag.
        self.type_specs = {
            key: TypeSpec(
                int(cfg.max_heartbeat_interval.total_seconds() * 1000)
                if cfg.max_heartbeat_interval
                else 0,
                1 if cfg.dead_letter_policy == "save" else 0,
            )
            for key, cfg in worker.registry.items()
        }
        self.routing = Routing()
        self.not_before: dict[str, float] = {}
        self.blocked: set[str] = set()
        # The free slots per type told to the claim sent ahead of the current blocking wait.
        self._armed_known: dict[str, ClaimSpec] | None = None
        self.hot: set[str] = set()
        # Set when the eligible queues may have changed (a run ended, a stop, new routing).
        self.changed = asyncio.Event()
        self._blocking_on: list[str] | None = None
        self._rotation = 0
        self._credit: Counter[str] = Counter()  # the weighted strategy's credit per queue

    @property
    def wake_key(self) -> str:
        """This worker's private doorbell."""
        return self.state.keys.wake(self.worker.id)

    # ------------------------------------------------------------ routing

    async def refresh_routing(self) -> None:
        """Re-read the role and queue configs (after a hint or a version change)."""
        version = await self.state.config_version()
        try:
            role = await self.state.get_role(self.settings.role)
            queues = role.queues
        except RoleNotFound:
            log.warning("role %r does not exist; idle until it is created", self.settings.role)
            role = Role(name=self.settings.role)
            queues = []
        configs = {q.name: q for q in await self.state.list_queues()}
        self.routing = Routing([q for q in queues if q in configs], configs, version)
        self.routing.strategy = role.strategy
        self.routing.weights = {q: role.weight(q) for q in self.routing.queues}
        self._credit.clear()
        self.blocked.clear()
        await self.state.set_worker_queues(self.worker.id, self.routing.queues)
        await self.poke()

    def _queue_running(self) -> Counter[str]:
        return Counter(run.queue for run in self.worker.runs.values())

    def _eligible(self) -> list[str]:
        if self.worker.stopping or len(self.worker.runs) >= self.settings.concurrency:
            return []
        running = self._queue_running()
        now = time.monotonic()
        out = []
        for q in self.routing.queues:
            cfg = self.routing.configs.get(q)
            if cfg is None or cfg.paused or q in self.blocked:
                continue
            if cfg.max_concurrent is not None and running[q] >= cfg.max_concurrent:
                continue
            if self.not_before.get(q, 0.0) > now:
                continue
            out.append(q)
        return out

    async def poke(self) -> None:
        """Tell the fetcher its set of eligible queues may have changed.

        A blocked fetcher is woken when that set changed, or when the free slots of a
        capped type changed since it began to wait: the claim sent ahead would skip a task
        of that type, and the doorbells of the capped types with room are part of the wait.
        """
        self.changed.set()
        stale = self._armed_known is not None and self._armed_known != self._claim_specs()
        if self._blocking_on is not None and (
            stale or set(self._eligible()) != set(self._blocking_on)
        ):
            with contextlib.suppress(*REDIS_ERRORS):
                await self.state.wake(self.wake_key)

    # ------------------------------------------------------------ fetching

    async def run(self) -> None:
        """Fetch until the worker stops, through Redis trouble (``retry_redis``)."""
        while not self.worker.stopping:
            try:
                await retry_redis(self._fetch_unless_stopping, self._paused, stop_if=self._stopping)
            except RETRIED:
                return  # the worker is stopping: no retry

    def _stopping(self) -> bool:
        return self.worker.stopping

    async def _fetch_unless_stopping(self) -> None:
        # A retry that comes after the stop signal must not start a wait of its own.
        if not self.worker.stopping:
            await self._fetch_once()

    def _paused(self, exc: BaseException, pause: float) -> None:
        log.warning("fetch: redis failed (%s); retrying in %.1fs", exc, pause)
        self._blocking_on = None

    async def _fetch_once(self) -> None:
        eligible = self._eligible()
        if not eligible:
            self.changed.clear()
            timeout = self.settings.block_timeout
            waits = [t - time.monotonic() for t in self.not_before.values() if t > time.monotonic()]
            if waits:
                timeout = min(timeout, max(0.001, min(waits)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout)
            return
        eligible = self._in_turn(eligible)
        if eligible[0] in self.hot:
            # The last claim on the queue whose turn it is filled its request: more work
            # is likely waiting, so claim again without a round trip through the doorbell.
            # Only that queue: claiming every hot queue first let the one queue that got
            # the first claim keep the worker until it was empty.
            await self._claim(eligible[0])
            return
        timeout = self.settings.block_timeout
        waits = [t - time.monotonic() for t in self.not_before.values() if t > time.monotonic()]
        if waits:
            timeout = min(timeout, max(0.01, min(waits)))
        if len(eligible) == 1:
            # One queue to wait on: send its claim behind the blocking wait, so Redis runs
            # it the moment the doorbell rings (one round trip from submit to start).
            queue = eligible[0]
            free = self._free(queue)
            if free <= 0:
                return
            self._blocking_on = eligible
            known = self._armed_known = self._claim_specs()
            try:
                res = await self.state.wait_and_claim(
                    self.worker.id,
                    queue,
                    free,
                    known,
                    self.wake_key,
                    timeout,
                    self.routing.version,
                    types=_capped_with_room(known),
                )
            finally:
                self._blocking_on = self._armed_known = None
            await self._took(queue, free, res)
            return
        self._blocking_on = eligible
        known = self._armed_known = self._claim_specs()
        try:
            rung = await self.state.wait_for_work(
                eligible, self.wake_key, timeout, _capped_with_room(known)
            )
        finally:
            self._blocking_on = self._armed_known = None
        if rung is not None:
            await self._claim(rung)
        else:
            # A timeout or a local wake: sweep every eligible queue, which also covers a
            # doorbell lost to a crash between its pop and the claim.
            for queue in self._eligible():
                await self._claim(queue)

    def _in_turn(self, eligible: list[str]) -> list[str]:
        """The eligible queues in the order this pass serves them, by the role's strategy.

        The first is claimed from when it is hot; the others' doorbells are waited on in
        this order (a blocking pop returns the first rung one), so the order is the
        strategy: ``strict`` keeps the role's order, so an earlier queue with work always
        comes first; ``weighted`` puts first the queue with the most credit (smooth
        weighted round robin, per start: see ``_share``); ``round_robin`` rotates one step
        per pass.
        """
        match self.routing.strategy:
            case QueueStrategy.STRICT:
                return eligible
            case QueueStrategy.WEIGHTED:
                weights = self.routing.weights
                # Ties go to the heavier queue, then to the role's order (a stable sort).
                return sorted(eligible, key=lambda q: (-self._credit[q], -weights.get(q, 1)))
        # One step of rotation per pass, so that every queue of the role comes first in
        # turn and no busy queue starves the ones after it.
        self._rotation = (self._rotation + 1) % len(eligible)
        return eligible[self._rotation :] + eligible[: self._rotation]

    def _share(self, served: str, started: int) -> None:
        """Smooth weighted round robin over starts: each start credits every eligible queue
        its weight and takes their total from the served queue, so the credits sum to
        zero, and a weight-3 queue is first (and served) 3 times as often as a weight-1
        one while both have work. A credit is capped at one full claim's worth, so a queue
        idle for long does not bank a burst."""
        weights = self.routing.weights
        eligible = self._eligible() or [served]
        total = sum(weights.get(q, 1) for q in eligible)
        for q in eligible:
            self._credit[q] += weights.get(q, 1) * started
        self._credit[served] -= total * started
        cap = total * self.settings.concurrency
        for q in eligible:
            self._credit[q] = min(self._credit[q], cap)

    def _claim_specs(self) -> dict[str, ClaimSpec]:
        """The claimable types with their free slots under each task's own cap."""
        running = Counter(run.config.key for run in self.worker.runs.values())
        return {
            key: ClaimSpec(*spec, -1 if cap is None else max(0, cap - running[key]))
            for key, spec, cap in (
                (k, v, self.worker.registry[k].max_concurrent) for k, v in self.type_specs.items()
            )
        }

    def _free(self, queue: str) -> int:
        """How many tasks of ``queue`` this worker may start now."""
        free = self.settings.concurrency - len(self.worker.runs)
        cfg = self.routing.configs.get(queue)
        if cfg is not None and cfg.max_concurrent is not None:
            free = min(free, cfg.max_concurrent - self._queue_running()[queue])
        return free

    async def _claim(self, queue: str) -> None:
        if queue not in self._eligible():
            return
        free = self._free(queue)
        if free <= 0:
            return
        known = self._claim_specs()
        res = await self.state.claim(
            self.worker.id, queue, free, known, config_version=self.routing.version
        )
        await self._took(queue, free, res)

    async def _took(self, queue: str, free: int, res: ClaimResult) -> None:
        """Act on a claim's answer: start its tasks, or learn why there were none.

        Nothing here holds a queue back for its capped types: a claim sent ahead that ran
        before a run of a capped type ended skipped that type, and rang its doorbell, which
        the next wait includes now that the type has room.
        """
        if res.status is ClaimStatus.OK and len(res.tasks) == free:
            self.hot.add(queue)
        else:
            self.hot.discard(queue)
        match res.status:
            case ClaimStatus.LIMITED:
                self.not_before[queue] = time.monotonic() + res.retry_after_ms / 1000
            case ClaimStatus.PAUSED | ClaimStatus.NOQUEUE | ClaimStatus.CONFIG:
                await self.refresh_routing()
            case ClaimStatus.DEAD:
                log.warning("lease lapsed; registering again")
                await self.worker.register()
            case ClaimStatus.OK if self.worker.stopping:
                # Claimed while the stop signal arrived: hand the tasks straight back.
                for claimed in res.tasks:
                    args = self.state.outcome_args(
                        claimed.id, claimed.run_id, RunOutcome.RESUBMITTED
                    )
                    await self.worker.runner.record(
                        Run(
                            claimed,
                            self.worker.registry[f"{claimed.name}@{claimed.version}"],
                            queue,
                        ),
                        args,
                    )
            case ClaimStatus.OK:
                # Types at their cap stay waiting without holding the queue: the claim
                # rings their own doorbell, which this worker waits on again once it has
                # a free slot of the type (see `_capped_with_room`).
                if self.routing.strategy is QueueStrategy.WEIGHTED and res.tasks:
                    self._share(queue, len(res.tasks))  # before the runs fill the slots
                for claimed in res.tasks:
                    self.worker.runner.start(claimed, queue)
                if res.tasks:
                    # Let the new runs take their first step before this loop sends its
                    # next claim or blocking wait: a task starts one write sooner.
                    await asyncio.sleep(0)
