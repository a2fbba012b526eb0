"""Workflows over the real app, Redis and in-process workers: chains, diamonds, fan-in,
failure propagation, cancel, retry, bad graphs (issue 16)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from jobbers.models.task import TaskStatus
from jobbers.store.facade import StateManager
from tests.conftest import eventually
from tests.server.conftest import new_id

StartWorker = Callable[..., Any]


def chain(head: str, **last: Any) -> list[dict[str, Any]]:
    """Three nodes ``a -> b -> c``: the task ``head``, then two ``step`` tasks; ``last`` adds
    fields to ``c``."""
    return [
        {"key": "a", "name": head},
        {"key": "b", "name": "step", "depends_on": ["a"]},
        {"key": "c", "name": "step", "depends_on": ["b"], **last},
    ]


async def status_of(client: httpx.AsyncClient, tid: str) -> str:
    return str((await client.get(f"/task-status/{tid}")).json()["status"])


async def reach(client: httpx.AsyncClient, tid: str, *statuses: str, within: float = 15) -> Any:
    async def check() -> Any:
        body = (await client.get(f"/task-status/{tid}")).json()
        return body if body["status"] in statuses else None

    return await eventually(check, within=within, what=f"{tid} in {statuses}")


async def workflow(client: httpx.AsyncClient, tasks: list[dict[str, Any]], **extra: Any) -> Any:
    response = await client.post("/submit-workflow", json={"tasks": tasks, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def finished(client: httpx.AsyncClient, wid: str, within: float = 30) -> Any:
    async def check() -> Any:
        body = (await client.get(f"/workflows/{wid}")).json()
        return body if body["status"] != "running" else None

    return await eventually(check, within=within, what=f"workflow {wid} to finish")


async def test_a_chain_waits_then_hands_each_result_to_the_next(
    client: httpx.AsyncClient, start_worker: StartWorker
) -> None:
    a = await client.post("/submit-task", json={"name": "step", "parameters": {"value": 1}})
    a_id = a.json()["task"]["id"]
    b = await client.post(
        "/submit-task", json={"name": "step", "parameters": {"value": 2}, "depends_on": [a_id]}
    )
    assert b.status_code == 201, b.text
    b_id = b.json()["task"]["id"]
    assert b.json()["task"]["status"] == "waiting"
    assert b.json()["task"]["depends_on"] == [a_id]
    c = await client.post("/submit-task", json={"name": "step", "depends_on": [b_id]})
    c_id = c.json()["task"]["id"]
    stats = (await client.get("/stats")).json()
    assert stats["queues"][0]["counts"]["waiting"] == 2
    assert (await client.get(f"/task-status/{a_id}")).json()["children"] == [b_id]
    await start_worker()
    done = await reach(client, c_id, "completed")
    assert done["results"]["parents"] == {b_id: "completed"}
    assert done["results"]["inputs"][b_id]["value"] == 2
    assert done["results"]["inputs"][b_id]["inputs"][a_id]["value"] == 1
    assert done["results"]["inputs"][b_id]["parents"] == {a_id: "completed"}


async def test_a_parent_already_completed_is_counted_at_once(
    client: httpx.AsyncClient, start_worker: StartWorker
) -> None:
    await start_worker()
    a_id = (await client.post("/submit-task", json={"name": "step"})).json()["task"]["id"]
    await reach(client, a_id, "completed")
    b = await client.post("/submit-task", json={"name": "step", "depends_on": [a_id]})
    assert b.json()["task"]["status"] in ("submitted", "started", "completed")
    await reach(client, b.json()["task"]["id"], "completed")


async def test_unknown_parents_are_a_422_naming_them_and_store_nothing(
    client: httpx.AsyncClient, dbsize: Callable[[], int]
) -> None:
    known = (await client.post("/submit-task", json={"name": "step"})).json()["task"]["id"]
    before = dbsize()
    ghosts = [new_id(), new_id()]
    response = await client.post(
        "/submit-task", json={"name": "step", "depends_on": [known, *ghosts]}
    )
    assert response.status_code == 422, response.text
    for ghost in ghosts:
        assert ghost in response.text
    assert known not in response.json()["detail"][0]["msg"]
    assert dbsize() == before


async def test_the_same_dependent_submit_twice_is_idempotent(client: httpx.AsyncClient) -> None:
    a_id = (await client.post("/submit-task", json={"name": "step"})).json()["task"]["id"]
    body = {"id": new_id(), "name": "step", "depends_on": [a_id]}
    first = await client.post("/submit-task", json=body)
    again = await client.post("/submit-task", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    other = await client.post("/submit-task", json={**body, "depends_on": []})
    assert other.status_code == 409


async def test_a_diamond_joins_both_branches(
    client: httpx.AsyncClient, start_worker: StartWorker
) -> None:
    wf = await workflow(
        client,
        [
            {"key": "fetch", "name": "step", "parameters": {"value": "raw"}},
            {"key": "left", "name": "step", "parameters": {"value": "L"}, "depends_on": ["fetch"]},
            {"key": "right", "name": "step", "parameters": {"value": "R"}, "depends_on": ["fetch"]},
            {"key": "join", "name": "step", "depends_on": ["left", "right"]},
        ],
    )
    ids = wf["tasks"]
    assert set(ids) == {"fetch", "left", "right", "join"}
    await start_worker()
    body = await finished(client, wf["id"])
    assert body["status"] == "completed"
    assert {n["key"]: n["status"] for n in body["nodes"]} == dict.fromkeys(ids, "completed")
    join = (await client.get(f"/task-status/{ids['join']}")).json()
    inputs = join["results"]["inputs"]
    assert {inputs[ids["left"]]["value"], inputs[ids["right"]]["value"]} == {"L", "R"}
    assert join["workflow_id"] == wf["id"]
    assert sorted(join["depends_on"]) == sorted([ids["left"], ids["right"]])


async def test_a_fan_in_of_999_parents_starts_once_all_completed(
    client: httpx.AsyncClient, start_worker: StartWorker
) -> None:
    leaves = [{"key": f"p{i}", "name": "step", "parameters": {"value": i}} for i in range(999)]
    fan_in = {
        "key": "all",
        "name": "step",
        "parameters": {"summary": True},
        "depends_on": [leaf["key"] for leaf in leaves],
    }
    wf = await workflow(client, [*leaves, fan_in])
    assert len(wf["tasks"]) == 1000
    assert await status_of(client, wf["tasks"]["all"]) == "waiting"
    await start_worker(concurrency=50)
    body = await finished(client, wf["id"], within=120)
    assert body["status"] == "completed"
    last = (await client.get(f"/task-status/{wf['tasks']['all']}")).json()
    assert last["results"] == {"parents": 999, "inputs": 999}


async def test_one_task_with_100_parents_released_by_the_last(
    client: httpx.AsyncClient, start_worker: StartWorker
) -> None:
    roots = [{"key": f"r{i}", "name": "step"} for i in range(100)]
    wf = await workflow(
        client,
        [*roots, {"key": "end", "name": "step", "parameters": {"summary": True},
                  "depends_on": [r["key"] for r in roots]}],
    )  # fmt: skip
    assert await status_of(client, wf["tasks"]["end"]) == "waiting"
    await start_worker(concurrency=20)
    end = await reach(client, wf["tasks"]["end"], "completed", within=60)
    assert end["results"] == {"parents": 100, "inputs": 100}


async def test_a_failed_parent_cancels_its_descendants_by_default(
    client: httpx.AsyncClient, start_worker: StartWorker
) -> None:
    wf = await workflow(client, chain("boom"))
    await start_worker()
    body = await finished(client, wf["id"])
    assert body["status"] == "failed"
    ids = wf["tasks"]
    b = (await client.get(f"/task-status/{ids['b']}")).json()
    c = (await client.get(f"/task-status/{ids['c']}")).json()
    assert (b["status"], c["status"]) == ("cancelled", "cancelled")
    assert ids["a"] in b["last_error"] and "failed" in b["last_error"]
    assert ids["b"] in c["last_error"]
    assert b["started_at"] is None and c["started_at"] is None


async def test_the_run_policy_runs_the_child_with_the_parent_outcome(
    client: httpx.AsyncClient, start_worker: StartWorker
) -> None:
    wf = await workflow(
        client,
        [
            {"key": "a", "name": "boom"},
            {"key": "ok", "name": "step", "parameters": {"value": 5}},
            {"key": "b", "name": "step", "depends_on": ["a", "ok"], "on_parent_failure": "run"},
        ],
    )
    await start_worker()
    ids = wf["tasks"]
    b = await reach(client, ids["b"], "completed", "cancelled")
    assert b["status"] == "completed"
    assert b["results"]["parents"] == {ids["a"]: "failed", ids["ok"]: "completed"}
    assert list(b["results"]["inputs"]) == [ids["ok"]]
    assert (await finished(client, wf["id"]))["status"] == "failed"


async def test_cancelling_a_waiting_parent_cancels_the_chain(client: httpx.AsyncClient) -> None:
    a_id = (await client.post("/submit-task", json={"name": "step"})).json()["task"]["id"]
    b_id = (await client.post("/submit-task", json={"name": "step", "depends_on": [a_id]})).json()[
        "task"
    ]["id"]
    assert (await client.post(f"/task/{b_id}/cancel")).status_code == 200
    assert await status_of(client, b_id) == "cancelled"
    assert await status_of(client, a_id) == "submitted"


async def test_cancel_of_a_workflow_cancels_every_node_not_yet_ended(
    client: httpx.AsyncClient, start_worker: StartWorker
) -> None:
    wf = await workflow(client, chain("step", on_parent_failure="run"))
    response = await client.post(f"/workflows/{wf['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["cancelled"] == 3
    body = (await client.get(f"/workflows/{wf['id']}")).json()
    assert body["status"] == "cancelled"
    assert {n["status"] for n in body["nodes"]} == {"cancelled"}
    await start_worker()  # nothing is left to run: a cancelled node never starts
    listed = (await client.get("/task-list", params={"status": "submitted"})).json()
    assert listed["items"] == []
    assert (await client.post(f"/workflows/{new_id()}/cancel")).status_code == 404


async def test_retry_of_a_failed_node_rearms_its_cancelled_descendants(
    client: httpx.AsyncClient,
    start_worker: StartWorker,
    state: StateManager,
    clean_redis: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", clean_redis)  # where the gate task looks
    wf = await workflow(client, chain("gate"))
    ids = wf["tasks"]
    await start_worker()
    assert (await finished(client, wf["id"]))["status"] == "failed"
    assert await status_of(client, ids["c"]) == "cancelled"
    await state.redis.set("test:gate", "1")
    assert (await client.post(f"/task/{ids['a']}/retry")).status_code == 200
    body = await finished(client, wf["id"])
    assert body["status"] == "completed"
    c = (await client.get(f"/task-status/{ids['c']}")).json()
    assert c["results"]["inputs"][ids["b"]]["inputs"][ids["a"]] == {"value": "through"}
    listed = (await client.get("/workflows")).json()
    assert listed["items"][0]["status"] == "completed"
    assert listed["items"][0]["completed"] == 3


async def test_cycles_dangling_keys_and_bad_tasks_are_rejected_whole(
    client: httpx.AsyncClient, dbsize: Callable[[], int]
) -> None:
    before = dbsize()
    cycle = await client.post(
        "/submit-workflow",
        json={"tasks": [
            {"key": "a", "name": "step", "depends_on": ["c"]},
            {"key": "b", "name": "step", "depends_on": ["a"]},
            {"key": "c", "name": "step", "depends_on": ["b"]},
        ]},
    )  # fmt: skip
    assert cycle.status_code == 422 and "cycle" in cycle.text, cycle.text
    dangling = await client.post(
        "/submit-workflow",
        json={"tasks": [{"key": "a", "name": "step"}, {"key": "b", "name": "step",
                                                       "depends_on": ["nope"]}]},
    )  # fmt: skip
    assert dangling.status_code == 422 and "nope" in dangling.text, dangling.text
    ghost = new_id()
    unknown = await client.post(
        "/submit-workflow", json={"tasks": [{"key": "a", "name": "step", "depends_on": [ghost]}]}
    )
    assert unknown.status_code == 422 and ghost in unknown.text
    bad_task = await client.post(
        "/submit-workflow",
        json={"tasks": [{"key": "a", "name": "step"}, {"key": "b", "name": "nosuch"}]},
    )
    assert bad_task.status_code == 422
    bad_queue = await client.post(
        "/submit-workflow",
        json={"tasks": [{"key": "a", "name": "step"}, {"key": "b", "name": "step", "queue": "x"}]},
    )
    assert bad_queue.status_code == 422
    twice = await client.post(
        "/submit-workflow", json={"tasks": [{"key": "a", "name": "step"}] * 2}
    )
    assert twice.status_code == 422
    too_many = await client.post(
        "/submit-workflow", json={"tasks": [{"key": f"k{i}", "name": "step"} for i in range(1001)]}
    )
    assert too_many.status_code in (413, 422)
    assert dbsize() == before


async def test_a_workflow_is_idempotent_on_its_id(client: httpx.AsyncClient) -> None:
    wid = new_id()
    tasks = [{"key": "a", "name": "step"}, {"key": "b", "name": "step", "depends_on": ["a"]}]
    first = await client.post("/submit-workflow", json={"id": wid, "tasks": tasks})
    again = await client.post("/submit-workflow", json={"id": wid, "tasks": tasks})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    other = await client.post("/submit-workflow", json={"id": wid, "tasks": tasks[:1]})
    assert other.status_code == 409
    page = (await client.get("/task-list")).json()
    assert len(page["items"]) == 2


async def test_workflows_are_listed_in_keyset_pages(client: httpx.AsyncClient) -> None:
    made = [(await workflow(client, [{"key": "a", "name": "step"}]))["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/workflows", params=params)).json()
        seen += [w["id"] for w in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))
    assert (await client.get("/workflows", params={"cursor": "junk"})).status_code == 422
    assert (await client.get(f"/workflows/{new_id()}")).status_code == 404


async def test_retention_keeps_a_parent_a_waiting_child_needs(
    client: httpx.AsyncClient, state: StateManager, start_worker: StartWorker
) -> None:
    a_id = await client.post("/submit-task", json={"name": "step", "parameters": {"value": 7}})
    a_id = a_id.json()["task"]["id"]
    other = (await client.post("/submit-task", json={"name": "step"})).json()["task"]["id"]
    await start_worker()
    await reach(client, a_id, "completed")
    await reach(client, other, "completed")
    # The child waits for a task nobody runs (its queue is paused), so it stays live.
    await client.post("/queues", json={"name": "held"})
    await client.post("/queues/held/pause")
    blocker = await client.post("/submit-task", json={"name": "step", "queue": "held"})
    child = await client.post(
        "/submit-task",
        json={"name": "step", "depends_on": [a_id, blocker.json()["task"]["id"]]},
    )
    assert child.json()["task"]["status"] == "waiting"
    deleted = await state.apply_retention(TaskStatus.COMPLETED, 0, 100)
    assert deleted == 1  # `other` only
    assert (await client.get(f"/task-status/{other}")).status_code == 404
    assert (await client.get(f"/task-status/{a_id}")).status_code == 200


async def test_retention_of_the_last_node_deletes_the_workflow(
    client: httpx.AsyncClient, state: StateManager, start_worker: StartWorker
) -> None:
    wf = await workflow(
        client, [{"key": "a", "name": "step"}, {"key": "b", "name": "step", "depends_on": ["a"]}]
    )
    await start_worker()
    assert (await finished(client, wf["id"]))["status"] == "completed"
    assert await state.apply_retention(TaskStatus.COMPLETED, 0, 100) == 2
    assert (await client.get(f"/workflows/{wf['id']}")).status_code == 404
    assert (await client.get("/workflows")).json()["items"] == []
    assert await state.redis.exists(state.keys.workflow(wf["id"])) == 0


async def test_a_batch_submit_refuses_dependencies_and_stores_nothing(
    client: httpx.AsyncClient, dbsize: Callable[[], int]
) -> None:
    parent = (await client.post("/submit-task", json={"name": "step"})).json()["task"]["id"]
    before = dbsize()
    response = await client.post(
        "/submit-tasks",
        json={"tasks": [{"name": "step"}, {"name": "step", "depends_on": [parent]}]},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-2:] == [1, "depends_on"]
    assert dbsize() == before


async def test_workflow_nodes_keep_their_priority_and_delays_are_refused(
    client: httpx.AsyncClient, state: StateManager, dbsize: Callable[[], int]
) -> None:
    """A node's priority goes with it to the waiting list it joins (issues 15 and 16)."""
    body = await workflow(client, [{"key": "a", "name": "step", "priority": 8}])
    tid = body["tasks"]["a"]
    assert await status_of(client, tid) == "submitted"
    assert await state.redis.hget(state.keys.task(tid), "prio") == "8"
    members = await state.redis.zrange(state.keys.waiting_types("default"), 0, -1)
    assert any(str(m).endswith(":8") for m in members), members
    before = dbsize()
    refused = await client.post(
        "/submit-task", json={"name": "step", "depends_on": [tid], "delay": 5}
    )
    assert refused.status_code == 422, refused.text
    assert "depends_on" in refused.text
    assert dbsize() == before


def test_the_outline_puts_each_node_under_every_parent_once_in_full() -> None:
    """A diamond: d under b in full, then named again under c (what both trees draw)."""
    from jobbers.models.workflow import Workflow, WorkflowNode, WorkflowStatus

    def node(key: str, *deps: str) -> WorkflowNode:
        return WorkflowNode(
            key=key, id=key, name="step", queue="default", depends_on=list(deps), status=None
        )

    flow = Workflow(
        id="w",
        status=WorkflowStatus.RUNNING,
        total=4,
        nodes=[node("a"), node("b", "a"), node("c", "a"), node("d", "b", "c")],
    )
    shape = [(depth, n.key, seen) for depth, n, seen in flow.outline()]
    assert shape == [
        (0, "a", False),
        (1, "b", False),
        (2, "d", False),
        (1, "c", False),
        (2, "d", True),
    ]
    chain = Workflow(
        id="w",
        status=WorkflowStatus.RUNNING,
        total=3000,
        nodes=[node("s0"), *(node(f"s{i}", f"s{i - 1}") for i in range(1, 3000))],
    )
    assert chain.outline()[-1][0] == 2999  # no recursion limit on a long chain
