"""Every Redis key jobbers uses, built in one place.

All keys share a prefix (``jb:`` by default, ``JOBBERS_PREFIX`` to change it). The Lua
scripts build the same names from the prefix (``lua/common.lua``); this table is the
contract between both. Times are milliseconds of the Redis clock (``TIME``).

=============================  ======  ===================================================  ==========  ==========================
key                            type    contents                                              TTL         written by
=============================  ======  ===================================================  ==========  ==========================
task:{id}                      HASH    name, version, queue, status, attempt, recoveries,    retention   submit, claim, finish, ...
                                       run_id, worker, *_at timestamps, fp, hbmax, dlq,
                                       cancel, progress, pmsg, last_error
task:{id}:p                    STRING  parameters (JSON)                                     retention   submit
task:{id}:r                    STRING  results (JSON)                                        retention   finish
task:{id}:h                    LIST    error history, one JSON entry per event (<= 50)       retention   finish, reap, cancel
seen:{id}                      STRING  fingerprint of a deleted task (idempotent submit)     7 days      retention
s:{status}                     ZSET    id -> time, every task in that status                 -           every transition
s:{status}:{queue}             ZSET    the same per queue; s:submitted:{q} is the queue      -           every transition
all / all:{queue}              ZSET    id -> submitted_at, every stored task                 -           submit, retention
bell:{queue}                   ZSET    doorbell: one member while the queue may have work    -           submit, claim, promote
schedbell                      ZSET    doorbell for the scheduler: a retry was scheduled     -           finish
inflight:{worker}              ZSET    id -> started_at, tasks a worker holds                -           claim, finish, reap
hb                             ZSET    id -> heartbeat deadline (tasks with a max interval)  -           claim, task_beat
workers                        ZSET    worker id -> lease deadline                           -           register, beat, reap
worker:{id}                    HASH    role, host, pid, started_at, queues, counts           -           register, beat, finish
cancel:{worker}                SET     ids whose cancel the worker has not yet confirmed     -           cancel, stall check
rl:{queue}                     ZSET    run id -> start time: sliding rate-limit log          window      claim
m:{queue}:{minute}             HASH    started/completed/failed counts of one minute         2 hours     claim, finish
dlq / dlq:q:{queue} /          ZSET    id -> failed_at, dead-lettered tasks, with indexes    -           finish, reap, dlq ops
  dlq:n:{name}                         by queue and by task name
queues                         HASH    queue name -> QueueConfig JSON                        -           queue CRUD
roles                          HASH    role name -> Role JSON                                -           role CRUD
cfgver                         STRING  counter bumped by every queue/role change             -           queue/role CRUD
runseq                         STRING  counter for run ids                                   -           claim
events                         pubsub  "cancel:{id}", "config": hints, never the truth       -           cancel, CRUD
=============================  ======  ===================================================  ==========  ==========================
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from jobbers.models.task import TaskStatus


@dataclass(frozen=True)
class Keys:
    """Key builder for one prefix."""

    prefix: str = "jb:"

    @classmethod
    def from_env(cls) -> Keys:
        """Keys for the prefix in ``JOBBERS_PREFIX`` (default ``jb:``)."""
        return cls(os.environ.get("JOBBERS_PREFIX", "jb:"))

    def task(self, task_id: str) -> str:
        """The task's HASH."""
        return f"{self.prefix}task:{task_id}"

    def params(self, task_id: str) -> str:
        """The task's parameters."""
        return f"{self.prefix}task:{task_id}:p"

    def results(self, task_id: str) -> str:
        """The task's results."""
        return f"{self.prefix}task:{task_id}:r"

    def history(self, task_id: str) -> str:
        """The task's error history."""
        return f"{self.prefix}task:{task_id}:h"

    def status_index(self, status: TaskStatus | str, queue: str | None = None) -> str:
        """Tasks in a status, across queues or in one queue."""
        base = f"{self.prefix}s:{status}"
        return base if queue is None else f"{base}:{queue}"

    def all_index(self, queue: str | None = None) -> str:
        """Every stored task, across queues or in one queue."""
        return f"{self.prefix}all" if queue is None else f"{self.prefix}all:{queue}"

    def queue(self, queue: str) -> str:
        """The waiting tasks of a queue (the ``submitted`` index of that queue)."""
        return self.status_index(TaskStatus.SUBMITTED, queue)

    def bell(self, queue: str) -> str:
        """The doorbell idle workers block on."""
        return f"{self.prefix}bell:{queue}"

    def wake(self, worker_id: str) -> str:
        """A worker's private doorbell, rung to interrupt its blocking wait."""
        return f"{self.prefix}wake:{worker_id}"

    @property
    def sched_bell(self) -> str:
        """The doorbell the scheduler blocks on."""
        return f"{self.prefix}schedbell"

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
    def events(self) -> str:
        """Pub/sub channel for cancel and config hints."""
        return f"{self.prefix}events"
