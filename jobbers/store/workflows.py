"""Workflows: tasks that wait for other tasks (chains, fan-out/fan-in, DAGs).

A task submitted with ``depends_on`` is stored ``waiting`` until every parent is
``completed``; the script that ends its last parent moves it to ``submitted`` (no
polling: ``settled`` in ``lua/common.lua``, called wherever a task reaches a terminal
status). A parent that ends otherwise cancels it (``on_parent_failure=cancel``, down the
graph) or counts as done (``run``). A workflow is a graph submitted in one script run,
all or nothing (``lua/workflow.lua``); a retry of a failed node re-arms the descendants
its failure cancelled (``rearm``). Keys: ``jobbers/store/keys.py``.
"""

from __future__ import annotations

import graphlib
import hashlib
import json
from collections.abc import Sequence
from typing import Any, cast

from ulid import ULID

from jobbers.errors import DuplicateTask, InvalidInput, JobbersError, TaskNotFound
from jobbers.models.dashboard import Page
from jobbers.models.document import load_document
from jobbers.models.names import canonical_ulid
from jobbers.models.task import (
    MAX_PARENTS,
    ParentFailure,
    Task,
    TaskStatus,
    content_fingerprint,
    ms_to_datetime,
)
from jobbers.models.workflow import (
    Workflow,
    WorkflowCancelled,
    WorkflowNode,
    WorkflowRequest,
    WorkflowSubmitted,
    WorkflowSummary,
    overall_status,
)
from jobbers.store.codec import decode_parent_reads, decode_rejected
from jobbers.store.facade import MAX_PAGE, StateManager, _checked_params, store_op, task_id_of
from jobbers.store.listings import PageCursor, merged_window
from jobbers.store.verbs import store_verbs

__all__ = ["Workflows"]


def decode_parents(
    reads: Sequence[tuple[str, str, str | None]],
) -> tuple[dict[str, str], dict[str, Any]]:
    """``parent_outcomes``'s answer from (parent id, status or '', raw results or None).

    The claim brings these reads with the child (common.lua ``parent_reads``), so that a
    worker starts it without one more round trip after its parent completed.
    """
    statuses = {pid: status for pid, status, _ in reads if status}
    results = {pid: load_document(raw) for pid, _, raw in reads if raw is not None}
    return statuses, results


@store_verbs
class Workflows:
    """The workflow verbs of one StateManager (``Workflows(state).submit(...)``)."""

    def __init__(self, state: StateManager) -> None:
        self.state = state
        self.keys = state.keys
        self.redis = state.redis

    # ------------------------------------------------------------------ dependencies

    @store_op
    async def submit_after(self, task: Task) -> tuple[Task, bool]:
        """Store ``task``, waiting for ``task.depends_on``; (stored task, created).

        Idempotent on the id like ``StateManager.submit``. Unknown parent ids are an
        InvalidInput naming them; parents already finished are counted at once.
        """
        parents = _parent_ids(task.depends_on)
        params = _params_of(task)
        fp = _dependent_fingerprint(task, params, parents)
        res = await self.state.scripts.run(
            "workflow", "submit", "", "", "", _task_arg(task, fp, params, parents)
        )
        if res[0] == "same":
            return await self.with_links(await self.state.get_task(task.id)), False
        _raise_rejection(res, [task], [str(task.id)])
        return await self.with_links(await self.state.get_task(task.id)), True

    @store_op
    async def with_links(self, task: Task) -> Task:
        """``task`` with its parents, children, policy and workflow (one round trip)."""
        tid = str(task.id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hkeys(self.keys.parents(tid))
        pipe.smembers(self.keys.children(tid))
        pipe.hmget(self.keys.task(tid), "opf", "wf")
        parents, children, (opf, wf) = await pipe.execute()
        if not parents and not children and not wf:
            return task
        return task.model_copy(
            update={
                "depends_on": sorted(parents),
                "children": sorted(children),
                "on_parent_failure": ParentFailure.RUN if opf == "run" else ParentFailure.CANCEL,
                "workflow_id": wf,
            }
        )

    @store_op
    async def parent_outcomes(self, task_id: str) -> tuple[dict[str, str], dict[str, Any]]:
        """A child's parents: id -> status now, and id -> results of those that have them.

        What ``task.parents`` and ``task.parent_results`` give the running child. A parent
        deleted since (never while the child waits: retention keeps it) reads as absent.
        """
        reply = await self.state.scripts.run("parents", task_id)  # lua/parents.lua
        return decode_parents(decode_parent_reads(reply)[0])

    # ------------------------------------------------------------------ workflows

    @store_op
    async def submit(self, request: WorkflowRequest) -> tuple[WorkflowSubmitted, bool]:
        """Store a whole graph in one script run, all or nothing; (ids, created).

        A cycle, a dangling key or an invalid task is InvalidInput and stores nothing. The
        same workflow id with the same graph returns the stored ids; another graph under
        that id is a DuplicateTask.
        """
        wid = _workflow_id(request.id)
        specs = request.tasks
        by_key: dict[str, int] = {}
        for i, spec in enumerate(specs):
            if spec.key in by_key:
                raise InvalidInput(f"key {spec.key!r} names two tasks", field="key", item=i)
            by_key[spec.key] = i
        ids = [str(ULID()) for _ in specs]
        parents: list[list[str]] = []
        sorter: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
        for i, spec in enumerate(specs):
            local = [by_key[d] for d in spec.depends_on if d in by_key]
            if i in local:
                raise InvalidInput(f"task {spec.key!r} depends on itself", field="depends_on")
            outside = []
            for dep in spec.depends_on:
                if dep in by_key:
                    continue
                try:
                    outside.append(canonical_ulid(dep))
                except ValueError:
                    raise InvalidInput(
                        f"task {spec.key!r} depends on {dep!r}, which is neither a key of "
                        "this workflow nor a task id",
                        field="depends_on",
                        item=i,
                    ) from None
            parents.append(list(dict.fromkeys([ids[j] for j in local] + outside)))
            sorter.add(i, *local)
        try:
            order = list(sorter.static_order())
        except graphlib.CycleError as exc:
            cycle = " -> ".join(specs[i].key for i in exc.args[1])
            raise InvalidInput(f"the workflow has a cycle: {cycle}", field="depends_on") from None
        tasks = []
        argv = []
        for i in order:
            spec = specs[i]
            task = Task(
                id=ULID.from_str(ids[i]),
                name=spec.name,
                version=spec.version,
                queue=spec.queue,
                parameters=spec.parameters,
                depends_on=parents[i],
                on_parent_failure=spec.on_parent_failure,
                priority=spec.priority,
            )
            params = _checked_or_located(task, i)
            tasks.append(task)
            fp_i = _dependent_fingerprint(task, params, parents[i])
            argv.append(_task_arg(task, fp_i, params, parents[i]))
        graph = [
            {
                "key": spec.key,
                "id": ids[i],
                "name": spec.name,
                "queue": spec.queue,
                "depends_on": list(spec.depends_on),
            }
            for i, spec in enumerate(specs)
        ]
        fp = _workflow_fingerprint(request)
        res = await self.state.scripts.run(
            "workflow", "submit", wid, fp, json.dumps(graph, separators=(",", ":")), *argv
        )
        if res[0] == "exists":
            stored = await self.get(wid)
            return WorkflowSubmitted(id=wid, tasks={n.key: n.id for n in stored.nodes}), False
        if res[0] == "wfconflict":
            raise DuplicateTask(f"workflow {wid} already exists with a different graph")
        _raise_rejection(res, tasks, [str(t.id) for t in tasks])
        return WorkflowSubmitted(id=wid, tasks={s.key: ids[i] for i, s in enumerate(specs)}), True

    @store_op
    async def get(self, workflow_id: str) -> Workflow:
        """The graph with each node's status now; TaskNotFound if there is no such workflow."""
        wid = task_id_of(workflow_id)
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.workflow(wid)))
        if not raw.get("graph"):
            raise TaskNotFound(f"workflow {workflow_id} not found")
        try:
            graph = json.loads(raw["graph"])
        except ValueError:
            graph = []
        pipe = self.redis.pipeline(transaction=False)
        for node in graph:
            pipe.hget(self.keys.task(node["id"]), "status")
        statuses = await pipe.execute() if graph else []
        nodes = [
            WorkflowNode(
                key=node["key"],
                id=node["id"],
                name=node["name"],
                queue=node["queue"],
                depends_on=node["depends_on"],
                status=_status(statuses[i]),
            )
            for i, node in enumerate(graph)
        ]
        # The counts the scripts keep (``settled``, ``rearm``): they outlive a node that
        # retention deleted, and the listing reads the same ones.
        counts = {
            "completed": int(raw.get("c") or 0),
            "failed": int(raw.get("f") or 0),
            "cancelled": int(raw.get("x") or 0),
        }
        total = len(nodes)
        return Workflow(
            id=wid,
            status=overall_status(total, **counts),
            created_at=ms_to_datetime(raw.get("at")),
            total=total,
            nodes=nodes,
            **counts,
        )

    @store_op
    async def cancel(self, workflow_id: str) -> WorkflowCancelled:
        """Cancel every node not yet terminal (a running one is asked to stop)."""
        wid = task_id_of(workflow_id)
        res = await self.state.scripts.run("workflow", "cancel", wid)
        if res[0] == "notfound":
            raise TaskNotFound(f"workflow {workflow_id} not found")
        return WorkflowCancelled(id=wid, cancelled=int(res[1]), cancel_requested=int(res[2]))

    @store_op
    async def list(self, limit: int = 50, cursor: str | None = None) -> Page[WorkflowSummary]:
        """Workflows, newest first, in keyset pages (``jobbers.store.listings``)."""
        limit = max(1, min(limit, MAX_PAGE))
        at = PageCursor.decode(cursor)
        window = await merged_window(
            self.redis, self.keys, [self.keys.workflows], [], False, limit, at
        )
        entries = window.entries[:limit]
        pipe = self.redis.pipeline(transaction=False)
        for key in entries:
            pipe.hmget(self.keys.workflow(key.id), "n", "c", "f", "x", "at")
        rows = await pipe.execute() if entries else []
        items = []
        for key, (n, c, f, x, created) in zip(entries, rows, strict=True):
            if n is None:
                continue
            counts = {"completed": int(c or 0), "failed": int(f or 0), "cancelled": int(x or 0)}
            items.append(
                WorkflowSummary(
                    id=key.id,
                    status=overall_status(int(n), **counts),
                    created_at=ms_to_datetime(created),
                    total=int(n),
                    **counts,
                )
            )
        after = window.position_after(len(entries))
        return Page(items=items, next_cursor=after.encode() if after is not None else None)


def _status(value: str | None) -> TaskStatus | None:
    try:
        return TaskStatus(value) if value else None
    except ValueError:
        return None


def _workflow_id(value: str | None) -> str:
    if value is None:
        return str(ULID())
    try:
        return canonical_ulid(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="id") from None


def _parent_ids(values: Sequence[str]) -> list[str]:
    if len(values) > MAX_PARENTS:
        raise InvalidInput(f"at most {MAX_PARENTS} parents per task", field="depends_on")
    out = []
    for value in values:
        try:
            out.append(canonical_ulid(str(value)))
        except ValueError as exc:
            raise InvalidInput(str(exc), field="depends_on") from None
    return list(dict.fromkeys(out))


def _params_of(task: Task) -> str:
    params = _checked_params(task)
    if isinstance(params, InvalidInput):
        raise params
    return params


def _checked_or_located(task: Task, item: int) -> str:
    params = _checked_params(task)
    if isinstance(params, InvalidInput):
        params.item = item
        raise params
    return params


def _dependent_fingerprint(task: Task, params: str, parents: Sequence[str]) -> str:
    """The content digest of a task with parents: its parents and policy count too."""
    base = content_fingerprint(task.name, task.version, task.queue, params, task.priority)
    text = f"{base}\n{','.join(sorted(parents))}\n{task.on_parent_failure}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _workflow_fingerprint(request: WorkflowRequest) -> str:
    body = [spec.model_dump(mode="json") for spec in request.tasks]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _task_arg(task: Task, fp: str, params: str, parents: Sequence[str]) -> str:
    fields = [str(task.id), task.name, str(task.version), task.queue, fp, params]
    extra = [str(task.on_parent_failure), ",".join(parents), str(task.priority)]
    return "\x1f".join([*fields, *extra])


def _raise_rejection(res: list[Any], tasks: Sequence[Task], ids: Sequence[str]) -> None:
    """The error for a refused submit (nothing was stored), or nothing when it was stored."""
    if res[0] == "ok":
        return
    if res[0] != "rejected":
        raise JobbersError(f"unexpected workflow reply {res!r}")
    index, kind, value = decode_rejected(res)
    tid = ids[index - 1] if index > 0 else ""
    rest = " Nothing was stored." if len(tasks) > 1 else ""
    match kind:
        case "unknown":
            raise InvalidInput(
                f"unknown parent task ids: {', '.join(value.split(','))}.{rest}",
                field="depends_on",
            )
        case "conflict":
            raise DuplicateTask(
                f"task {tid} already exists with different content (status {value}); "
                f"it was left untouched.{rest}"
            )
        case "expired":
            raise DuplicateTask(f"task id {tid} was used by a task already deleted.{rest}")
        case "noqueue":
            raise InvalidInput(
                f"queue {value!r} does not exist; create it first (POST /queues).{rest}",
                field="queue",
            )
    raise JobbersError(f"unexpected workflow reply {res!r}")
