"""Every Redis key jobbers uses, built in one place.

All keys share a prefix (``jb:`` by default, ``JOBBERS_PREFIX`` to change it). The Lua
scripts build the same names from the prefix with one helper per method or property
below, ``K_<name>`` in ``lua/common.lua`` (tests/test_lane.py compares them); this table
is the contract between both. Times are milliseconds of the Redis clock (``TIME``).

Each entry: key, Redis type, contents, TTL, and the scripts or verbs that write it.

task:{id}              HASH    name, version, queue, status, attempt, recoveries, run_id,
                               worker, *_at times, fp, hbmax, dlq, cancel, progress, pmsg,
                               last_error, prio (0-9, only when not the default 5), res
                               (results JSON of up to 64 bytes); kept until retention;
                               submit/claim/finish/...
task:{id}:p            STRING  parameters JSON, absent for {}; retention; submit
task:{id}:r            STRING  results JSON longer than 64 bytes (all of them before they
                               moved to `res`); retention; finish
task:{id}:h            LIST    error history, one JSON entry per event (last 50); finish,
                               reap, stall, cancel, purge
wait                   HASH    id -> record of a compact waiting task (fresh submit no
                               worker or operator has touched): queue, name, version, fp,
                               submitted_at, params ('' = {}) joined by \x1f, then the
                               priority when it is not the default 5; submit; removed
                               when claim, cancel or purge write the task's full form
wl:{queue}:{name@ver}  LIST    ids of the queue's waiting tasks of one type (and priority:
                               `wl:{queue}:{name@ver}:{p}` for a priority p other than
                               the default 5, which keeps the plain name), oldest first:
                               compact ones (a record in `wait`; submit) and full-form ones
                               (entering `submitted` through move(): retry, requeue, promote,
                               recovery at the front); an id that is neither is a tombstone,
                               dropped when reached; claim, cancel, purge
wt:{queue}             ZSET    name@version[:p] (the list's suffix) -> lower bound of the
                               time of its oldest waiting task, one member per list; a
                               claim reads them by priority, then time; submit, move(),
                               claim, cancel, purge
q:{queue}              LIST    the layout before `wl`: migrated at start (migrate), then gone
layout                 STRING  "2" once `q:{queue}` lists were migrated; migrate
layout:full            HASH    queue -> 1 once its full-form waiting tasks were listed;
                               migrate, deleted when it is done
wq                     HASH    queue -> count of its compact tasks (tombstones excluded)
seen:{id}              STRING  fingerprint of a deleted task, for idempotent submit; 7 days;
                               retention
s:{status}             ZSET    id -> time, every task in that status; every transition
s:{status}:{queue}     ZSET    the same per queue; s:submitted:{q} holds the full-form
                               waiting tasks (score = enqueue time, 0 = front); every
                               transition
                               (a compact task is in none until its full form is written)
s:{status}:n:{name}    ZSET    the same per task name, full-form tasks only (a compact
                               waiting task is in none, so it costs no extra bytes), for
                               every status but `started` (a listing by name filters
                               `s:started`, which holds at most the workers' slots);
                               every transition (`move` in common.lua), retention
all, all:{queue}       ZSET    id -> submitted_at, every task in full form; claim, cancel,
                               purge (compact ones), retention
bell:{queue}           ZSET    doorbell, one member while the queue may have work; submit,
                               claim, promote, reap, resume
bell:{queue}:{name@ver} ZSET   doorbell of a capped type's tasks left by a claim at its
                               worker's cap; workers with a free slot of the type wait on it
wake:{worker}          ZSET    a worker's private doorbell, interrupts its blocking wait
schedbell              ZSET    doorbell of the scheduler, rung when a retry is scheduled,
                               a delayed task submitted or a schedule's next tick written
sched                  HASH    schedule name -> Schedule JSON (definition, enabled); schedule
                               verbs (sched_put)
sched:next             ZSET    schedule name -> its next tick (ms), enabled schedules only;
                               sched_put, sched_fire; schedulers read the due ones
sched:last             HASH    schedule name -> JSON {tick, at, task, outcome}: what the last
                               tick did; sched_fire
inflight:{worker}      ZSET    id -> started_at, tasks a worker holds; claim, finish, reap
hb                     ZSET    id -> heartbeat deadline (tasks with a max interval); claim,
                               task_beat, stall
stallpass              STRING  Redis time of the last stall pass; a long gap = an outage; stall
workers                ZSET    worker id -> lease deadline (Redis clock); worker_beat, reap
worker:{id}            HASH    role, host, pid, started_at, last_seen, queues, processed,
                               failed, conn (the name its connections carry, when they
                               do: the cleaner's connection watch); worker_beat, finish, reap
cancel:{worker}        SET     durable cancel requests for a worker's runs; cancel, stall;
                               popped by worker_beat
rl:{queue}             ZSET    run id -> start time, sliding rate-limit log; expires after
                               one window; claim
m:{queue}:{minute}     HASH    submitted/started/completed/failed/... counts of a minute;
                               2 hours; every transition
dlq, dlq:q:{queue},    ZSET    id -> failed_at, dead-lettered tasks and their indexes by
dlq:n:{name}                   queue and by task name; finish, reap, stall, dlq verbs
queues                 HASH    queue name -> QueueConfig JSON; queue verbs
roles                  HASH    role name -> Role JSON (queues, strategy, weights); role verbs
cfgver                 STRING  bumped by every queue or role change; workers poll it
runseq                 STRING  counter behind run ids; claim
hdr:{id}               STRING  JSON headers stored with a task at submit (a trace context from
                               the on_submit hooks or the HTTP traceparent); 7 days;
                               StateManager.submit (before the submit script)
events                 pubsub  "cancel:{id}" and "config" hints, never the source of truth
ev                     STREAM  status changes: id, name, queue, from, to, worker, attempt (the
                               entry id's ms = the time); a batch (move_many, submit) is one
                               entry per 100 changes, its id/name/worker/attempt values joined
                               by ',' or one shared value; capped near JOBBERS_EVENTS_MAXLEN
                               entries (10,000; 0 = none) with XADD MAXLEN ~; a submit's
                               (or a schedule fire's) batch stores its ids' shared start once
                               (idp) and the rest of each id (ids) instead of id;
                               move() and move_many() in common.lua, submit

Workflows (``jobbers/store/workflows.py``, ``lua/workflow.lua``, helpers in ``lua/common.lua``):
task:{id}              HASH    + deps (parents not yet counted), opf (on_parent_failure:
                               cancel | run), wf (workflow id), pcx (the parent whose
                               outcome cancelled it); workflow, finish, requeue
task:{id}:pa           HASH    parent id -> its outcome as this task counted it ('' = not
                               yet: it may still run); workflow, `settled`, `rearm`
task:{id}:c            SET     ids of the tasks waiting on this one (its children);
                               workflow; read when it ends (`settled`) or is retried
s:waiting[:{queue}]    ZSET    tasks in status `waiting` (full form only); move()
wf:{id}                HASH    fp, at (created), n (tasks), graph (JSON: key, id, name,
                               queue, depends_on), c / f / x (nodes completed / failed,
                               stalled or dropped / cancelled); workflow, `settled`, `rearm`
wfs                    ZSET    workflow id -> created at, for the paged listing; workflow
"""

from __future__ import annotations

from dataclasses import dataclass

from jobbers.models.task import TaskStatus
from jobbers.store.settings import store_env


@dataclass(frozen=True)
class Keys:
    """Key builder for one prefix."""

    prefix: str = "jb:"

    @classmethod
    def from_env(cls) -> Keys:
        """Keys for the prefix in ``JOBBERS_PREFIX`` (default ``jb:``)."""
        return cls(store_env().prefix)

    def task(self, task_id: str) -> str:
        """The task's HASH."""
        return f"{self.prefix}task:{task_id}"

    def headers(self, task_id: str) -> str:
        """The headers stored with a task at submit (``jobbers.hooks``)."""
        return f"{self.prefix}hdr:{task_id}"

    def params(self, task_id: str) -> str:
        """The task's parameter JSON; absent when the parameters are ``{}``."""
        return f"{self.prefix}task:{task_id}:p"

    def results(self, task_id: str) -> str:
        """The task's results."""
        return f"{self.prefix}task:{task_id}:r"

    def history(self, task_id: str) -> str:
        """The task's error history."""
        return f"{self.prefix}task:{task_id}:h"

    def seen(self, task_id: str) -> str:
        """The fingerprint a deleted task leaves for idempotent submits (7 days)."""
        return f"{self.prefix}seen:{task_id}"

    def status_index(self, status: TaskStatus | str, queue: str | None = None) -> str:
        """Tasks in a status, across queues or in one queue."""
        base = f"{self.prefix}s:{status}"
        return base if queue is None else f"{base}:{queue}"

    def status_name_index(self, status: TaskStatus | str, name: str) -> str:
        """Full-form tasks of one task name in a status, for listings filtered by name.

        Names cannot hold ``:``, so ``s:{status}:n:{name}`` never meets ``s:{status}:{queue}``.
        """
        return f"{self.prefix}s:{status}:n:{name}"

    def all_index(self, queue: str | None = None) -> str:
        """Every stored task, across queues or in one queue."""
        return f"{self.prefix}all" if queue is None else f"{self.prefix}all:{queue}"

    def queue(self, queue: str) -> str:
        """The queue's full-form waiting tasks (retries, re-queued; the ``submitted`` index)."""
        return self.status_index(TaskStatus.SUBMITTED, queue)

    @property
    def waiting_records(self) -> str:
        """Compact waiting tasks: id -> record (see ``lua/common.lua``)."""
        return f"{self.prefix}wait"

    def waiting_list(self, queue: str, task_type: str) -> str:
        """The ids of a queue's waiting tasks of one type (``name@version``), oldest first.

        At a priority other than the default, ``task_type`` is ``name@version:{p}``.
        """
        return f"{self.prefix}wl:{queue}:{task_type}"

    def waiting_types(self, queue: str) -> str:
        """A queue's task types with a waiting list, scored by their oldest task's time."""
        return f"{self.prefix}wt:{queue}"

    def legacy_waiting_list(self, queue: str) -> str:
        """The queue's compact ids in the layout before per-type lists (``lua/migrate.lua``)."""
        return f"{self.prefix}q:{queue}"

    @property
    def layout(self) -> str:
        """Holds "2" once the legacy lists were migrated (``lua/migrate.lua``)."""
        return f"{self.prefix}layout"

    @property
    def layout_marks(self) -> str:
        """The queues whose full-form waiting tasks the migration has listed."""
        return f"{self.prefix}layout:full"

    @property
    def waiting_counts(self) -> str:
        """Queue -> how many compact tasks wait on it."""
        return f"{self.prefix}wq"

    def bell(self, queue: str, task_type: str | None = None) -> str:
        """The doorbell idle workers block on; with ``task_type``, that capped type's bell."""
        base = f"{self.prefix}bell:{queue}"
        return base if task_type is None else f"{base}:{task_type}"

    def wake(self, worker_id: str) -> str:
        """A worker's private doorbell, rung to interrupt its blocking wait."""
        return f"{self.prefix}wake:{worker_id}"

    @property
    def sched_bell(self) -> str:
        """The doorbell the scheduler blocks on."""
        return f"{self.prefix}schedbell"

    @property
    def schedules(self) -> str:
        """Schedule name -> Schedule JSON."""
        return f"{self.prefix}sched"

    @property
    def schedule_next(self) -> str:
        """Schedule name -> next tick (ms), enabled schedules only."""
        return f"{self.prefix}sched:next"

    @property
    def schedule_last(self) -> str:
        """Schedule name -> JSON of the last tick's outcome."""
        return f"{self.prefix}sched:last"

    @property
    def workers(self) -> str:
        """Worker id -> lease deadline."""
        return f"{self.prefix}workers"

    def worker(self, worker_id: str) -> str:
        """A worker's registration HASH."""
        return f"{self.prefix}worker:{worker_id}"

    def inflight(self, worker_id: str) -> str:
        """Tasks a worker holds."""
        return f"{self.prefix}inflight:{worker_id}"

    def cancel_box(self, worker_id: str) -> str:
        """Durable cancel requests addressed to a worker."""
        return f"{self.prefix}cancel:{worker_id}"

    @property
    def heartbeat_deadlines(self) -> str:
        """Task id -> the time its next heartbeat is due."""
        return f"{self.prefix}hb"

    @property
    def stall_pass(self) -> str:
        """The Redis time of the stall pass before, to see an outage (``lua/stall.lua``)."""
        return f"{self.prefix}stallpass"

    def dlq(self, queue: str | None = None, name: str | None = None) -> str:
        """The dead-letter index, whole or by queue or by task name."""
        if queue is not None:
            return f"{self.prefix}dlq:q:{queue}"
        if name is not None:
            return f"{self.prefix}dlq:n:{name}"
        return f"{self.prefix}dlq"

    @property
    def queues(self) -> str:
        """Queue name -> QueueConfig JSON."""
        return f"{self.prefix}queues"

    @property
    def roles(self) -> str:
        """Role name -> Role JSON."""
        return f"{self.prefix}roles"

    @property
    def config_version(self) -> str:
        """Counter bumped by every queue or role change."""
        return f"{self.prefix}cfgver"

    @property
    def run_sequence(self) -> str:
        """The counter behind run ids (``lua/claim.lua``)."""
        return f"{self.prefix}runseq"

    def rate_log(self, queue: str) -> str:
        """A rate-limited queue's sliding log of run starts."""
        return f"{self.prefix}rl:{queue}"

    def minute_counts(self, queue: str, minute: int) -> str:
        """A queue's per-minute counters (``minute`` = Redis ms // 60000)."""
        return f"{self.prefix}m:{queue}:{minute}"

    def parents(self, task_id: str) -> str:
        """Workflows: parent id -> its outcome as the task counted it ('' = not yet)."""
        return f"{self.prefix}task:{task_id}:pa"

    def children(self, task_id: str) -> str:
        """Workflows: the tasks waiting on this one."""
        return f"{self.prefix}task:{task_id}:c"

    def workflow(self, workflow_id: str) -> str:
        """Workflows: one workflow's graph and counts."""
        return f"{self.prefix}wf:{workflow_id}"

    @property
    def workflows(self) -> str:
        """Workflows: id -> creation time, for the paged listing."""
        return f"{self.prefix}wfs"

    @property
    def events(self) -> str:
        """Pub/sub channel for cancel and config hints."""
        return f"{self.prefix}events"

    @property
    def event_stream(self) -> str:
        """The capped stream of status changes (``models/event.py``)."""
        return f"{self.prefix}ev"
