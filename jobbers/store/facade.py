"""StateManager: every read and write of jobbers state, named in domain verbs.

The worker, scheduler, cleaner and server call these verbs; none of them builds Redis
commands. Each transition is one Lua script (``jobbers/store/lua``), so it is atomic and keeps
the status indexes and counters in step. Every listing is a range over an index and every
count is a ZCARD: nothing here scans the keyspace.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from ulid import ULID

from jobbers import hooks
from jobbers.errors import (
    Conflict,
    DuplicateTask,
    InvalidInput,
    InvalidTransition,
    JobbersError,
    StoreUnavailable,
    TaskNotFound,
)
from jobbers.models.dashboard import Page
from jobbers.models.document import check_document
from jobbers.models.event import TaskEvent, events_from_entry, split_event_id
from jobbers.models.names import canonical_ulid, check_name
from jobbers.models.queue import QueueConfig, Role
from jobbers.models.task import (
    MAX_DELAY_S,
    MAX_PARAMS_BYTES,
    MAX_SUBMIT_BATCH,
    Task,
    TaskError,
    TaskStatus,
    TaskSummary,
    ms_to_datetime,
)
from jobbers.store.coalesce import Coalescer
from jobbers.store.codec import (
    decode_submit,
    summary_from_record,
    summary_from_redis,
    task_from_record,
    task_from_redis,
)
from jobbers.store.config import Config
from jobbers.store.connection import connection_pool, key_prefix
from jobbers.store.dashboard import Dashboard
from jobbers.store.keys import Keys
from jobbers.store.lane import Lane
from jobbers.store.listings import PageCursor, list_source, merged_window
from jobbers.store.protocol import SubmitRejected
from jobbers.store.runs import Runs
from jobbers.store.schedules import Schedules
from jobbers.store.scripts import Scripts
from jobbers.store.settings import store_env
from jobbers.store.verbs import Delegated, store_op, store_verbs

__all__ = ["InvalidInput", "StateManager", "check_cursor", "store_op", "task_id_of"]


DEFAULT_QUEUE = "default"
DEFAULT_ROLE = "default"
MAX_PAGE = 1000
# How long the headers stored with a task (``submit``) are kept: a trace context is of
# no use after a week, and the TTL spares every script that ends a task from deleting it.
HEADERS_TTL_S = 7 * 24 * 3600
# Connections per process, and how long a caller waits for one before Redis counts as down.
POOL_SIZE = 64
POOL_WAIT_S = 10.0
# Listings of these statuses read oldest first (what runs next); the rest newest first.
_OLDEST_FIRST = {TaskStatus.SUBMITTED, TaskStatus.SCHEDULED, TaskStatus.STARTED}


def task_id_of(task_id: str | ULID) -> str:
    """The canonical id of a task; InvalidInput for anything that is not a ULID.

    Ids become parts of key names, so nothing else may reach Redis.
    """
    if isinstance(task_id, ULID):
        return str(task_id)
    try:
        return canonical_ulid(str(task_id))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def check_cursor(cursor: str | None) -> str | None:
    """``cursor`` if the core made it; InvalidInput (a ValueError) otherwise."""
    PageCursor.decode(cursor)
    return cursor


@store_verbs
class StateManager:
    """All jobbers state in one Redis, behind domain verbs.

    The task, queue, role, DLQ and dashboard verbs are its own; the verbs of the running
    system (``Runs``) and of schedules (``Schedules``) live in parts it owns, built here with
    the connection, keys and scripts they use, and are offered here under their own names.
    Every verb maps a Redis outage to ``StoreUnavailable`` (``jobbers.store.verbs``).
    """

    # The running system's verbs (``jobbers.store.runs``): workers, scheduler, cleaner.
    register_worker = Delegated("runs", Runs.register_worker)
    worker_heartbeat = Delegated("runs", Runs.worker_heartbeat)
    set_worker_queues = Delegated("runs", Runs.set_worker_queues)
    hint_listener = Delegated("runs", Runs.hint_listener)
    deregister_worker = Delegated("runs", Runs.deregister_worker)
    claim = Delegated("runs", Runs.claim)
    wait_and_claim = Delegated("runs", Runs.wait_and_claim)
    wait_for_work = Delegated("runs", Runs.wait_for_work)
    wake = Delegated("runs", Runs.wake)
    task_heartbeat = Delegated("runs", Runs.task_heartbeat)
    outcome_args = staticmethod(Runs.outcome_args)
    finish_many = Delegated("runs", Runs.finish_many)
    complete = Delegated("runs", Runs.complete)
    schedule_retry = Delegated("runs", Runs.schedule_retry)
    fail = Delegated("runs", Runs.fail)
    record_cancelled = Delegated("runs", Runs.record_cancelled)
    record_stopped = Delegated("runs", Runs.record_stopped)
    resubmit_interrupted = Delegated("runs", Runs.resubmit_interrupted)
    promote_due = Delegated("runs", Runs.promote_due)
    wait_for_schedule = Delegated("runs", Runs.wait_for_schedule)
    reap_dead_workers = Delegated("runs", Runs.reap_dead_workers)
    scan_worker_connections = Delegated("runs", Runs.scan_worker_connections)
    reap_disconnected_workers = Delegated("runs", Runs.reap_disconnected_workers)
    mark_stalled = Delegated("runs", Runs.mark_stalled)
    apply_retention = Delegated("runs", Runs.apply_retention)
    # The schedule verbs (``jobbers.store.schedules``).
    ring_scheduler = Delegated("schedules", Schedules.ring_scheduler)
    list_schedules = Delegated("schedules", Schedules.list_schedules)
    get_schedule = Delegated("schedules", Schedules.get_schedule)
    create_schedule = Delegated("schedules", Schedules.create_schedule)
    put_schedule = Delegated("schedules", Schedules.put_schedule)
    delete_schedule = Delegated("schedules", Schedules.delete_schedule)
    set_schedule_enabled = Delegated("schedules", Schedules.set_schedule_enabled)
    trigger_schedule = Delegated("schedules", Schedules.trigger_schedule)
    fire_due_schedules = Delegated("schedules", Schedules.fire_due_schedules)
    warm_schedules = Delegated("schedules", Schedules.warm_schedules)
    # The queue and role verbs (``jobbers.store.config``).
    list_queues = Delegated("config", Config.list_queues)
    get_queue = Delegated("config", Config.get_queue)
    create_queue = Delegated("config", Config.create_queue)
    put_queue = Delegated("config", Config.put_queue)
    delete_queue = Delegated("config", Config.delete_queue)
    set_queue_paused = Delegated("config", Config.set_queue_paused)
    purge_queue = Delegated("config", Config.purge_queue)
    list_roles = Delegated("config", Config.list_roles)
    get_role = Delegated("config", Config.get_role)
    create_role = Delegated("config", Config.create_role)
    put_role = Delegated("config", Config.put_role)
    delete_role = Delegated("config", Config.delete_role)
    config_version = Delegated("config", Config.config_version)
    announce_change = Delegated("config", Config.announce_change)
    # What the dashboard polls (``jobbers.store.dashboard``).
    stats = Delegated("dashboard", Dashboard.stats)
    workers = Delegated("dashboard", Dashboard.workers)

    def __init__(self, redis: Redis, keys: Keys | None = None) -> None:
        # The store's variables (``jobbers.store.settings``), read once per StateManager.
        env = store_env()
        self.redis = redis
        self.keys = keys or Keys(env.prefix)
        self.scripts = Scripts(redis, self.keys.prefix, env.events_maxlen)
        self.fetch_lane = Lane(redis.connection_pool)
        self.runs = Runs(redis, self.keys, self.scripts, self.fetch_lane)
        self.schedules = Schedules(redis, self.keys, self.scripts, self.get_task)
        self.config = Config(redis, self.keys, self.scripts)
        self.dashboard = Dashboard(redis, self.keys, self.scripts, self.config.list_queues)
        # Opt-in: replicas that must hold a submit before it is acknowledged (``_run_submit``).
        self.submit_replicas = env.submit_replicas
        self.submit_wait_ms = env.submit_wait_ms
        # The submit script's own connection: the coalescer sends one batch at a time.
        self._submit_lane = Lane(redis.connection_pool)
        self._submitter: Coalescer[Task, tuple[Task, bool]] = Coalescer(
            self._submit_batch, MAX_SUBMIT_BATCH
        )

    @classmethod
    def from_url(cls, url: str, keys: Keys | None = None, **options: Any) -> StateManager:
        """A StateManager over a new connection pool to ``url`` (``jobbers.store.connection``)."""
        options.setdefault("socket_connect_timeout", 2.0)
        # Longer than any blocking wait (worker and scheduler block for <= 5 s), so a
        # BZPOPMIN is never cut off by its own socket; still catches a hung server.
        options.setdefault("socket_timeout", 30.0)
        options.setdefault("health_check_interval", 10)
        # A pooled connection goes stale when Redis restarts: retry a command once on a
        # fresh connection. Every verb is safe to repeat (submit is idempotent, worker
        # writes are fenced by run id, and a lost claim reply is recovered by worker_beat).
        options.setdefault("retry", Retry(ExponentialBackoff(cap=0.5, base=0.05), 2))
        options.setdefault(
            "retry_on_error", [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
        )
        # A burst of callers (the manager under load, a bulk script) waits for a pooled
        # connection instead of failing with "too many connections" at the pool's limit.
        options.setdefault("max_connections", POOL_SIZE)
        options.setdefault("timeout", POOL_WAIT_S)
        # Bytes that are not UTF-8 (cjson stores an escaped lone surrogate, as in an error
        # message, as such) read as U+FFFD: one bad record must never fail a read.
        options.setdefault("encoding_errors", "replace")
        # On a cluster the prefix picks the hash slot, so it is known before the pool.
        keys = keys or Keys(key_prefix(url))
        pool = connection_pool(url, keys.prefix, decode_responses=True, **options)
        return cls(Redis.from_pool(pool), keys)

    @property
    def client_name(self) -> str | None:
        """The name every connection of this manager gives itself (CLIENT SETNAME), if any."""
        name = self.redis.connection_pool.connection_kwargs.get("client_name")
        return str(name) if name else None

    @property
    def events_enabled(self) -> bool:
        """False when the event stream is off (``JOBBERS_EVENTS_MAXLEN=0``): nothing is written."""
        return self.scripts.events_max != 0

    async def close(self) -> None:
        """Close the connection pool and the lanes."""
        await self.fetch_lane.close()
        await self._submit_lane.close()
        await self.redis.aclose()

    @store_op
    async def ping(self) -> bool:
        """True when Redis answers."""
        return bool(await self.redis.ping())

    # ------------------------------------------------------------------ events

    @store_op
    async def last_event_id(self) -> str:
        """The newest entry of the event stream (``0-0`` when empty): where a reader starts.

        Taken before a reader looks at anything else, so no change after it is missed.
        """
        newest = await self.redis.xrevrange(self.keys.event_stream, count=1)
        return str(newest[0][0]) if newest else "0-0"

    @store_op
    async def read_events(
        self, after: str, block_ms: int, count: int = 200
    ) -> tuple[str, list[TaskEvent]]:
        """The events after event ``after`` (up to ``count`` entries), waiting up to
        ``block_ms`` for one.

        Returns the entry id to read after next time, and the events (an entry that does
        not read as events is skipped, never an error). One XREAD BLOCK: a new entry wakes
        it at once, so delivery costs no polling interval. ``after`` may name a change
        inside a batch's entry (``{entry}.{index}``): the rest of that entry comes first.
        """
        key = self.keys.event_stream
        entry, index = split_event_id(after)
        events: list[TaskEvent] = []
        if index >= 0:
            found = cast(
                list[tuple[str, dict[str, str]]], await self.redis.xrange(key, entry, entry)
            )
            for entry_id, fields in found:
                events += events_from_entry(entry_id, fields)[index + 1 :]
        block = None if events else block_ms
        reply = await self.redis.xread({key: entry}, count=count, block=block)
        got = cast(list[tuple[str, list[tuple[str, dict[str, str]]]]], reply)
        for entry_id, fields in got[0][1] if got else []:
            entry = str(entry_id)
            events += events_from_entry(entry, fields)
        return entry, events

    @store_op
    async def ensure_defaults(self) -> None:
        """Create the ``default`` queue and the ``default`` role consuming it, once."""
        k = self.keys
        created = await self.redis.hsetnx(
            k.queues,
            DEFAULT_QUEUE,
            QueueConfig(name=DEFAULT_QUEUE).model_dump_json(exclude_none=True),
        )
        created += await self.redis.hsetnx(
            k.roles, DEFAULT_ROLE, Role(name=DEFAULT_ROLE, queues=[DEFAULT_QUEUE]).model_dump_json()
        )
        if created:
            await self.config.announce_change()
        # Waiting tasks stored in the layout before per-type waiting lists move onto them
        # (``lua/migrate.lua``); once done, this is one GET per start.
        while await self.scripts.run("migrate", 10_000):
            pass

    # ------------------------------------------------------------------ tasks

    async def submit(
        self,
        task: Task,
        headers: Mapping[str, str] | None = None,
        run_at: datetime | None = None,
        delay: float | None = None,
    ) -> tuple[Task, bool]:
        """Store ``task`` and enqueue it; returns (stored task, created).

        Idempotent on the id: the same id with the same content returns the existing task
        and never enqueues it twice; other content raises DuplicateTask and changes nothing.
        Concurrent calls share round trips (``jobbers.store.coalesce``), each keeping its own
        outcome. ``headers`` (e.g. a W3C ``traceparent``), with those the process's
        ``on_submit`` hooks add, are stored with the task for the worker's hooks.

        ``run_at`` (an aware time) or ``delay`` (seconds) keeps the task ``scheduled`` until
        then (also settable as the task's own fields); a time not in the future runs now.
        """
        if run_at is not None or delay is not None:
            task = task.model_copy(update={"run_at": run_at, "delay": delay})
        if not headers and not hooks.any_registered():
            return await self._submitter.call(task)  # the usual case: nothing more to do
        found = hooks.submit_headers(
            str(task.id), task.name, task.version, task.queue, task.parameters
        )
        found.update(headers or {})
        if found:
            return await self._submit_with_headers(task, found)
        return await self._submitter.call(task)

    @store_op
    async def _submit_with_headers(self, task: Task, headers: dict[str, str]) -> tuple[Task, bool]:
        """``submit`` with headers, written first so that a worker never claims it without.

        NX: an earlier submit of the same id keeps its headers. A refused or repeated
        submit takes back the headers it wrote, so it leaves nothing stored.
        """
        key = self.keys.headers(str(task.id))
        fresh = await self.redis.set(key, json.dumps(headers), nx=True, ex=HEADERS_TTL_S)
        try:
            stored, created = await self._submitter.call(task)
        except BaseException:
            if fresh:
                with contextlib.suppress(Exception):
                    await self.redis.delete(key)
            raise
        if fresh and not created:
            await self.redis.delete(key)
        return stored, created

    @store_op
    async def task_headers(self, task_id: str) -> dict[str, str]:
        """The headers stored with a task at submit; {} when it had none (or they expired)."""
        raw = await self.redis.get(self.keys.headers(task_id))
        if not raw:
            return {}
        try:
            found = json.loads(raw)
        except ValueError:
            return {}
        if not isinstance(found, dict):
            return {}
        return {str(k): str(v) for k, v in found.items()}

    @store_op
    async def submit_many(self, tasks: Sequence[Task]) -> list[tuple[Task, bool]]:
        """Submit up to ``MAX_SUBMIT_BATCH`` tasks in one round trip, all or nothing.

        Each task behaves as in ``submit`` (an id already stored with the same content comes
        back with ``created`` false). One conflicting id, expired id or unknown queue rejects
        the whole batch before anything is written, so a client can fix and resend it.
        """
        if len(tasks) > MAX_SUBMIT_BATCH:
            raise InvalidInput(
                f"{len(tasks)} tasks in one batch; send at most {MAX_SUBMIT_BATCH} at a time"
            )
        if len({task.id for task in tasks}) < len(tasks):
            raise InvalidInput("a task id appears twice in one batch")
        outcomes = await self._submit_batch(tasks, all_or_nothing=True)
        return [outcome for outcome in outcomes if not isinstance(outcome, BaseException)]

    @store_op
    async def _submit_batch(
        self, tasks: Sequence[Task], all_or_nothing: bool = False
    ) -> list[tuple[Task, bool] | BaseException]:
        """One submit script call; per task its outcome or the error that refused it."""
        outcomes: list[tuple[Task, bool] | BaseException] = []
        argv: list[str | int] = ["all" if all_or_nothing else "each"]
        sent: list[tuple[int, Task, str]] = []
        for task in tasks:
            checked = _checked_params(task)
            if isinstance(checked, InvalidInput):
                if all_or_nothing:
                    checked.item = len(outcomes)
                    raise checked
                outcomes.append(checked)
                continue
            # Delayed submit (issue 15 §1): a bad time refuses the task like bad parameters.
            due = _checked_due(task)
            if isinstance(due, InvalidInput):
                if all_or_nothing:
                    due.item = len(outcomes)
                    raise due
                outcomes.append(due)
                continue
            tid = str(task.id)
            fp = task.fingerprint(checked)
            argv.append(
                f"{tid}\x1f{task.name}\x1f{task.version}\x1f{task.queue}\x1f{fp}\x1f{checked}"
                # Per-task fields after the parameters, one \x1f each:
                f"\x1f{task.priority}"  # priority (issue 15 part 3)
                + (f"\x1f{due}" if due else "")  # delayed submit (issue 15 part 1)
            )
            sent.append((len(outcomes), task, tid))
            outcomes.append((task, False))  # replaced by the script's answer below
        if not sent:
            return outcomes
        res = decode_submit(await self._run_submit(argv))
        if isinstance(res, SubmitRejected):
            index, task, _ = sent[res.position - 1]
            refusal = _refusal(task, len(tasks), res.kind, res.value)
            if isinstance(refusal, InvalidInput):
                refusal.item = index
            raise refusal
        repeats: list[tuple[int, str]] = []
        when: dict[str, datetime | None] = {}  # one script call has one clock reading
        for n, (i, task, tid) in enumerate(sent):
            kind, value = res[n]
            if kind == "new":
                if value not in when:
                    when[value] = ms_to_datetime(value)
                update = {"status": TaskStatus.SUBMITTED, "submitted_at": when[value]}
                outcomes[i] = (task.model_copy(update=update), True)
            elif kind == "later":  # Delayed submit (issue 15 §1): stored scheduled
                at, _, due_ms = value.partition(":")
                update = {
                    "status": TaskStatus.SCHEDULED,
                    "submitted_at": ms_to_datetime(at),
                    "scheduled_for": ms_to_datetime(due_ms),
                }
                outcomes[i] = (task.model_copy(update=update), True)
            elif kind == "exists":
                repeats.append((i, tid))
                outcomes[i] = (task, False)
            else:
                outcomes[i] = _refusal(task, 1, kind, value)
        if repeats:
            found = await self.get_tasks([tid for _, tid in repeats])
            stored = {str(t.id): t for t in found}
            for i, tid in repeats:
                outcomes[i] = (stored.get(tid, tasks[i]), False)
        return outcomes

    async def _run_submit(self, argv: list[str | int]) -> Any:
        """The submit script; with ``submit_replicas``, acknowledged by that many replicas.

        Replication is asynchronous: a write the master acknowledged can be lost when the
        master dies before a replica got it and Sentinel promotes that replica. WAIT on
        the connection that wrote closes that window for submits, at the cost of a round
        trip to the replicas. Fewer acknowledgements than asked raise StoreUnavailable (the
        manager answers 503): the tasks are on the master but not yet safe, and a retry
        with the same ids is harmless (submit is idempotent).
        """
        if not self.submit_replicas:
            return await self.scripts.run_on(self._submit_lane, "submit", *argv)
        # WAIT counts the writes of its own connection: one client bound to one connection.
        async with self.redis.client() as conn:
            res = await self.scripts.run("submit", *argv, client=conn)
            try:
                acked = int(await conn.wait(self.submit_replicas, self.submit_wait_ms))
            except redis.exceptions.ResponseError as exc:  # demoted between the two commands
                raise StoreUnavailable(
                    f"the submit was not acknowledged by a master: {exc}"
                ) from exc
        if acked < self.submit_replicas:
            raise StoreUnavailable(
                f"{acked} of {self.submit_replicas} replicas acknowledged the submit within "
                f"{self.submit_wait_ms} ms; retry it (the same ids are not submitted twice)"
            )
        return res

    async def submit_task(self, task: Task) -> Task:
        """Submit ``task`` (see ``submit``) and return the stored task."""
        stored, _ = await self.submit(task)
        return stored

    @store_op
    async def get_task(self, task_id: str | ULID) -> Task:
        """The task with its parameters, results and error history; TaskNotFound if absent."""
        tasks = await self.get_tasks([task_id_of(task_id)], history=True)
        if not tasks:
            raise TaskNotFound(f"task {task_id} not found")
        return tasks[0]

    @store_op
    async def get_tasks(
        self, ids: Sequence[str], history: bool = False, waiting: bool = True
    ) -> list[Task]:
        """Tasks by id in one round trip, skipping ids that no longer exist.

        ``waiting=False`` skips the compact-record lookup, for ids read from an index that
        holds no waiting task (a status other than ``submitted``, the DLQ).
        """
        if not ids:
            return []
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        for tid in ids:
            # The compact record first: a claim that writes the full form in between is
            # then seen one way or the other, never neither.
            if waiting:
                pipe.hget(k.waiting_records, tid)
            pipe.hgetall(k.task(tid))
            pipe.get(k.params(tid))
            pipe.get(k.results(tid))
            if history:
                pipe.lrange(k.history(tid), 0, -1)
        replies = await pipe.execute()
        step = 3 + int(history) + int(waiting)
        tasks = []
        for i in range(len(ids)):
            reply = replies[i * step : (i + 1) * step]
            record = reply.pop(0) if waiting else None
            fields, params, results, *rest = reply
            if fields:
                tasks.append(
                    task_from_redis(ids[i], fields, params, results, rest[0] if rest else None)
                )
            elif record:
                tasks.append(task_from_record(ids[i], record))
        return tasks

    @store_op
    async def get_summaries(self, ids: Sequence[str], waiting: bool = True) -> list[TaskSummary]:
        """Listing rows by id in one round trip: the task HASH only, no parameters or results.

        ``waiting`` as in ``get_tasks``.
        """
        if not ids:
            return []
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        for tid in ids:
            if waiting:
                pipe.hget(k.waiting_records, tid)
            pipe.hgetall(k.task(tid))
        replies = await pipe.execute()
        step = 1 + int(waiting)
        out: list[TaskSummary] = []
        for i, tid in enumerate(ids):
            record = replies[i * step] if waiting else None
            fields = replies[i * step + step - 1]
            if fields:
                out.append(summary_from_redis(tid, fields))
            elif record:
                out.append(summary_from_record(tid, record))
        return out

    @store_op
    async def list_tasks(
        self,
        status: TaskStatus | None = None,
        queue: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        name: str | None = None,
    ) -> Page[TaskSummary]:
        """A page of tasks by status, queue and/or task name, from the indexes.

        Rows are summaries (no parameters, results or history: ``get_task`` has them).
        Waiting tasks stored compact are in no index: the listings that include them
        (``submitted``, and every status) merge the waiting lists in (``jobbers.store.listings``).
        A name reads the per-name indexes (``s:{status}:n:{name}``; with no status, all of
        them merged, newest change first); a queue with a name filters that index's rows.
        Running tasks have no per-name index (a run writes two index entries less): a name
        filters ``s:started``, which holds at most the workers' slots.
        """
        k = self.keys
        if queue is not None:
            await self.get_queue(queue)
        if name is not None:
            _checked_name(name)
        waiting = status in (None, TaskStatus.SUBMITTED)
        lists = await self._waiting_lists(queue, name) if waiting else []
        accept: Callable[[TaskSummary], bool] | None = None
        if name is None:
            indexes = [k.status_index(status, queue) if status else k.all_index(queue)]
        else:
            statuses = (
                [status] if status else [s for s in TaskStatus if s is not TaskStatus.UNSUBMITTED]
            )
            indexes = [
                k.status_index(s, queue)
                if s is TaskStatus.STARTED
                else k.status_name_index(s, name)
                for s in statuses
            ]
            if queue is not None or TaskStatus.STARTED in statuses:
                accept = lambda t: t.name == name and (queue is None or t.queue == queue)  # noqa: E731
        # Only the lists hold compact tasks: rows read from indexes need no record lookup.
        return await self._keyset_page(
            indexes, lists, status in _OLDEST_FIRST, limit, cursor, accept, bool(lists)
        )

    async def _waiting_lists(self, queue: str | None, name: str | None) -> list[str]:
        """The compact waiting lists a listing merges in (``listing.waiting_entries``).

        A queue keeps one list per task type (``wt:{queue}`` names those with work); a
        task name keeps the lists of that name's versions. O(queues x types), never tasks.
        """
        if queue is not None:
            queues = [queue]
        else:
            counts = cast(dict[str, str], await self.redis.hgetall(self.keys.waiting_counts))
            queues = sorted(q for q, n in counts.items() if int(n) > 0)
        lists: list[str] = []
        for q in queues:
            types = cast(list[str], await self.redis.zrange(self.keys.waiting_types(q), 0, -1))
            lists += [
                list_source(q, t)
                for t in sorted(types)
                if name is None or t.rpartition("@")[0] == name
            ]
        return lists

    async def _keyset_page(
        self,
        indexes: list[str],
        lists: list[str],
        oldest_first: bool,
        limit: int,
        cursor: str | None,
        accept: Callable[[TaskSummary], bool] | None = None,
        waiting: bool = True,
    ) -> Page[TaskSummary]:
        """One page over ``indexes`` and ``lists`` after ``cursor`` (``jobbers.store.listings``).

        ``accept`` filters rows beyond what the indexes select; the rows it reads are
        bounded (a short page then carries a cursor to go on from).
        """
        limit = max(1, min(limit, MAX_PAGE))
        at: PageCursor | None = PageCursor.decode(cursor)
        found: list[TaskSummary] = []
        budget = max(limit * 20, 1000)
        while at is not None:
            want = limit - len(found) if accept is None else min(limit * 2, MAX_PAGE)
            window = await merged_window(
                self.redis, self.keys, indexes, lists, oldest_first, want, at
            )
            rows = await self.get_summaries([key.id for key in window.entries], waiting)
            by_id = {str(row.id): row for row in rows}
            taken = 0
            for key in window.entries:
                taken += 1
                budget -= 1
                row = by_id.get(key.id)
                if row is not None and (accept is None or accept(row)):
                    found.append(row)
                    if len(found) == limit:
                        break
            at = window.position_after(taken)
            if len(found) == limit or budget <= 0:
                break
        return Page(items=found, next_cursor=at.encode() if at is not None else None)

    @store_op
    async def cancel_task(self, task_id: str | ULID, reason: str = "cancelled by operator") -> str:
        """Cancel a task: ``cancelled`` at once if waiting, ``requested`` if running.

        Raises TaskNotFound, or InvalidTransition for any other status.
        """
        res = await self.scripts.run("cancel", task_id_of(task_id), reason)
        if res[0] == "notfound":
            raise TaskNotFound(f"task {task_id} not found")
        if res[0] == "conflict":
            raise InvalidTransition(f"task {task_id} is {res[1]} and cannot be cancelled")
        return str(res[0])

    async def cancel_tasks(self, task_ids: Sequence[str]) -> dict[str, str]:
        """Cancel many tasks; one outcome per id, never all-or-nothing.

        Bulk answers share one vocabulary: the outcome, ``not_found``, ``invalid_id``,
        ``conflict: <why>`` or ``error: <why>``.
        """
        outcomes: dict[str, str] = {}
        for tid in task_ids:
            try:
                outcomes[tid] = await self.cancel_task(tid)
            except TaskNotFound:
                outcomes[tid] = "not_found"
            except InvalidInput:
                outcomes[tid] = "invalid_id"
            except InvalidTransition as exc:
                outcomes[tid] = f"conflict: {exc}"
        return outcomes

    @store_op
    async def retry_task(self, task_id: str | ULID, reset_retry_count: bool = False) -> Task:
        """Put a failed, stalled or cancelled task back on its queue."""
        await self._requeue(task_id_of(task_id), reset_retry_count, from_dlq=False)
        return await self.get_task(task_id)

    async def _requeue(
        self, tid: str, reset: bool, from_dlq: bool, params: tuple[str, str] | None = None
    ) -> None:
        """Requeue one task; ``params`` (JSON, fingerprint) replaces its parameters as well."""
        res = await self.scripts.run("requeue", tid, int(reset), int(from_dlq), *(params or ()))
        match res[0]:
            case "ok":
                return
            case "notfound":
                raise TaskNotFound(f"task {tid} not found")
            case "notindlq":
                raise TaskNotFound(f"task {tid} is not in the dead-letter queue")
            case "conflict":
                raise InvalidTransition(
                    f"task {tid} is {res[1]}; only failed, stalled or cancelled tasks "
                    "can be retried"
                )
            case "noqueue":
                raise InvalidInput(
                    f"task {tid} belongs to queue {res[1]!r}, which no longer exists"
                )
        raise JobbersError(f"unexpected requeue reply {res!r}")

    async def _new_params(
        self, tid: str, overrides: dict[str, Any], replace: bool
    ) -> tuple[str, str]:
        """The parameter JSON and fingerprint a resubmit gives the task; InvalidInput if unfit."""
        task = await self.get_task(tid)
        merged = dict(overrides) if replace else {**task.parameters, **overrides}
        changed = task.model_copy(update={"parameters": merged})
        params = _checked_params(changed)
        if isinstance(params, InvalidInput):
            raise params
        return params, changed.fingerprint(params)

    @store_op
    async def task_history(self, task_id: str | ULID) -> list[TaskError]:
        """The error history of a task."""
        return (await self.get_task(task_id)).errors

    # ------------------------------------------------------------------ dead-letter queue

    @store_op
    async def list_dlq(
        self,
        task_name: str | None = None,
        queue: str | None = None,
        task_version: int | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[TaskSummary]:
        """Dead-lettered tasks, newest first, filtered by name, queue and version.

        Rows are summaries, and pages follow keys, as in ``list_tasks``.
        """
        k = self.keys
        for name in (task_name, queue):
            if name is not None:
                _checked_name(name)
        key = k.dlq(name=task_name) if task_name else k.dlq(queue=queue) if queue else k.dlq()

        def accept(task: TaskSummary) -> bool:
            if queue is not None and task.queue != queue:
                return False
            return task_version is None or task.version == task_version

        # Filters beyond the chosen index are applied page by page; the scan is bounded.
        return await self._keyset_page([key], [], False, limit, cursor, accept, waiting=False)

    @store_op
    async def dlq_history(self, task_id: str | ULID) -> list[TaskError]:
        """The full failure history of a dead-lettered task."""
        score = await self.redis.zscore(self.keys.dlq(), task_id_of(task_id))
        if score is None:
            raise TaskNotFound(f"task {task_id} is not in the dead-letter queue")
        return await self.task_history(task_id)

    @store_op
    async def resubmit_dlq(
        self,
        task_ids: Sequence[str],
        reset_retry_count: bool,
        parameters: dict[str, Any] | None = None,
        replace_parameters: bool = False,
    ) -> dict[str, str]:
        """Put dead-lettered tasks back on their queues; one outcome per id.

        ``parameters`` fixes what made a task fail: merged over each task's own (keys given
        win), or instead of them with ``replace_parameters``. The new parameters and their
        fingerprint are written by the requeue itself, so a refused requeue changes nothing.
        """
        outcomes: dict[str, str] = {}
        for tid in task_ids:
            try:
                new = None
                if parameters is not None:
                    new = await self._new_params(tid, parameters, replace_parameters)
                await self._requeue(task_id_of(tid), reset_retry_count, from_dlq=True, params=new)
                outcomes[tid] = "resubmitted"
            except TaskNotFound:
                outcomes[tid] = "not_found"
            except InvalidInput as exc:
                outcomes[tid] = "invalid_id" if "not a ULID" in str(exc) else f"error: {exc}"
            except Conflict as exc:
                outcomes[tid] = f"conflict: {exc}"
        return outcomes

    @store_op
    async def remove_from_dlq(self, task_ids: Sequence[str]) -> int:
        """Take tasks out of the DLQ without resubmitting; returns how many were there."""
        ids = [task_id_of(tid) for tid in task_ids]
        total = 0
        for i in range(0, len(ids), 500):
            total += int(await self.scripts.run("dlq_remove", *ids[i : i + 500]))
        return total

    # ------------------------------------------------------------------ dashboard

    @store_op
    async def active_tasks(
        self,
        queue: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        name: str | None = None,
    ) -> Page[TaskSummary]:
        """Running tasks, oldest start first."""
        return await self.list_tasks(TaskStatus.STARTED, queue, limit, cursor, name)

    @store_op
    async def scheduled_tasks(
        self, queue: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> Page[TaskSummary]:
        """Tasks waiting for a retry or their run time (delayed submits), soonest due first."""
        return await self.list_tasks(TaskStatus.SCHEDULED, queue, limit, cursor)


def _checked_name(name: str) -> str:
    try:
        return check_name(name)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _refusal(task: Task, size: int, kind: str, value: str) -> JobbersError:
    """The error for the task that stopped a submit; it says nothing else was stored."""
    tid = task.id
    rest = " Nothing from this batch was stored." if size > 1 else ""
    match kind:
        case "conflict":
            return DuplicateTask(
                f"task {tid} already exists with different content (status {value}); "
                f"it was left untouched.{rest}"
            )
        case "expired":
            return DuplicateTask(
                f"task id {tid} was used by a task already deleted by retention.{rest}"
            )
        case "noqueue":
            return InvalidInput(
                f"queue {value!r} does not exist; create it first (POST /queues).{rest}",
                field="queue",
            )
    return JobbersError(f"unexpected submit reply {kind!r} for task {tid}")


def _checked_due(task: Task) -> str | InvalidInput:
    """The task's due spec for submit.lua (``Task.due_spec``), or why it is refused.

    The API validates the same bounds; this guards callers of the core itself.
    """
    if task.run_at is not None and task.delay is not None:
        return InvalidInput(f"task {task.id}: give run_at or delay, not both", field="run_at")
    if task.run_at is not None:
        if task.run_at.tzinfo is None:
            return InvalidInput(f"task {task.id}: run_at needs a timezone", field="run_at")
        if task.run_at > datetime.now(UTC) + timedelta(seconds=MAX_DELAY_S):
            return InvalidInput(f"task {task.id}: run_at is more than a year ahead", field="run_at")
    if task.delay is not None and not 0 <= task.delay <= MAX_DELAY_S:
        return InvalidInput(
            f"task {task.id}: delay must be between 0 and {MAX_DELAY_S} seconds", field="delay"
        )
    return task.due_spec()


def _checked_params(task: Task) -> str | InvalidInput:
    """The task's parameter JSON, or why the store must not take it."""
    try:
        params = task.params_json()
        check_document(task.parameters, "parameters", params)
    except ValueError as exc:
        return InvalidInput(
            f"task {task.id}: parameters are not plain JSON: {exc}", field="parameters"
        )
    if len(params.encode()) > MAX_PARAMS_BYTES:
        return InvalidInput(
            f"task {task.id}: parameters are larger than {MAX_PARAMS_BYTES} bytes",
            field="parameters",
        )
    return params
