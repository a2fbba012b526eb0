"""A real worker's ``--metrics-port``, JSON logs, and the metric names shared with the manager."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from jobbers import metric_names
from jobbers.dev.redis_server import free_port
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status
from tests.procs import Procs
from tests.server.conftest import client_for, make_app
from tests.test_sync_tasks import ext_worker


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def _scrape(port: int) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    return response.text


async def test_worker_metrics_scraped_from_a_real_worker(state: StateManager, procs: Procs) -> None:
    port = free_port()
    ext_worker(procs, "--metrics-port", str(port))
    ok = [
        await state.submit_task(Task(name="ext_add", parameters={"a": i, "b": 1})) for i in (1, 2)
    ]
    bad = await state.submit_task(Task(name="ext_flaky"))
    sync = await state.submit_task(Task(name="sync_block", parameters={"seconds": 0.2}))
    for task in (*ok, sync):
        await wait_status(state, task.id, TaskStatus.COMPLETED, within=15)
    await wait_status(state, bad.id, TaskStatus.FAILED, within=15)

    async def settled() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        samples = _samples(await _scrape(port))
        key = ("jobbers_worker_runs_finished_total", (("outcome", "failed"), ("task", "ext_flaky")))
        return samples if samples.get(key) == 1.0 else {}

    samples = await eventually(settled, within=10, what="the flaky task's final count")
    started = "jobbers_worker_runs_started_total"
    finished = "jobbers_worker_runs_finished_total"
    assert samples[(started, (("task", "ext_add"),))] == 2.0
    assert samples[(started, (("task", "ext_flaky"),))] == 2.0
    assert samples[(started, (("task", "sync_block"),))] == 1.0
    assert samples[(finished, (("outcome", "completed"), ("task", "ext_add")))] == 2.0
    assert samples[(finished, (("outcome", "retried"), ("task", "ext_flaky")))] == 1.0
    assert samples[(finished, (("outcome", "completed"), ("task", "sync_block")))] == 1.0
    assert samples[("jobbers_worker_runs_in_flight", ())] == 0.0
    duration = "jobbers_worker_run_duration_seconds"
    assert samples[(f"{duration}_count", (("task", "sync_block"),))] == 1.0
    assert samples[(f"{duration}_sum", (("task", "sync_block"),))] >= 0.2
    claim = "jobbers_worker_claim_latency_seconds_count"
    assert samples[(claim, (("task", "ext_add"),))] == 2.0  # first attempts only
    assert samples[(claim, (("task", "ext_flaky"),))] == 1.0


async def test_every_exported_family_is_in_the_shared_table(
    state: StateManager, procs: Procs, clean_redis: str
) -> None:
    port = free_port()
    ext_worker(procs, "--metrics-port", str(port))
    task = await state.submit_task(Task(name="ext_add", parameters={"a": 1, "b": 1}))
    await wait_status(state, task.id, TaskStatus.COMPLETED, within=15)
    async with client_for(make_app(clean_redis, state)) as client:
        manager_text = (await client.get("/metrics")).text

    def families(text: str) -> set[str]:
        # The parser names a counter's family without its ``_total``; ``_created`` series
        # are prometheus_client's companions of counters and histograms.
        found = {f.name for f in text_string_to_metric_families(text)}
        return {n for n in found if n.startswith("jobbers") and not n.endswith("_created")}

    def table(names: tuple[str, ...]) -> set[str]:
        return {name.removesuffix("_total") for name in names}

    assert families(await _scrape(port)) == table(metric_names.WORKER)
    assert families(manager_text) == table(metric_names.MANAGER)
    assert not set(metric_names.WORKER) & set(metric_names.MANAGER)


async def test_json_logs_carry_the_task_on_every_line_inside_it(
    state: StateManager, procs: Procs, tmp_path: Path
) -> None:
    ext_worker(procs, JOBBERS_LOG_FORMAT="json")
    task = await state.submit_task(Task(name="ext_add", parameters={"a": 1, "b": 1}))
    await wait_status(state, task.id, TaskStatus.COMPLETED, within=15)

    def lines() -> list[dict[str, object]]:
        return [json.loads(line) for line in procs.logs().splitlines() if line.startswith("{")]

    # The extension module's Exploding hook logs inside the run; the outcome line too.
    def about_task() -> list[dict[str, object]]:
        found = [line for line in lines() if str(task.id) in str(line["message"])]
        return (
            found
            if any(line["logger"] == "jobbers.runtime.worker.outcomes" for line in found)
            else []
        )

    await eventually(about_task, within=10, what="the task's outcome line")
    inside = [line for line in lines() if line.get("task_id") == str(task.id)]
    loggers = {line["logger"] for line in inside}
    assert {"jobbers.hooks", "jobbers.runtime.worker.outcomes"} <= loggers
    for line in inside:
        assert line["task_name"] == "ext_add" and line["attempt"] == 1
        assert line["process"] == "worker" and line["level"] in ("INFO", "ERROR")
    hook_errors = [line for line in inside if line["logger"] == "jobbers.hooks"]
    assert "RuntimeError: before_run exploded" in str(hook_errors[0]["exc_info"])
    started = [line for line in lines() if "started: role" in str(line["message"])]
    assert started and "task_id" not in started[0]  # outside any task: no task fields
