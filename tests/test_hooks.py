"""Hooks (``jobbers.hooks``) on a real worker process: called in order, never in the way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobbers import hooks
from jobbers.hooks import Hook, RunOutcome, SubmitInfo
from jobbers.models.task import Task, TaskStatus
from jobbers.store.facade import StateManager
from tests.conftest import eventually, wait_status
from tests.extension_tasks import HOOK_LOG_ENV
from tests.procs import Procs
from tests.test_sync_tasks import ext_worker


def _lines(path: Path, task_id: object) -> list[list[str]]:
    return [
        line.split() for line in path.read_text().splitlines() if line.split()[1] == str(task_id)
    ]


async def test_raising_hook_changes_no_outcome_and_the_others_run(
    state: StateManager, procs: Procs, tmp_path: Path
) -> None:
    log = tmp_path / "hooks.txt"
    log.touch()
    ext_worker(procs, **{HOOK_LOG_ENV: str(log)})
    ok = await state.submit_task(Task(name="ext_add", parameters={"a": 2, "b": 3}))
    bad = await state.submit_task(Task(name="ext_flaky"))

    done = await wait_status(state, ok.id, TaskStatus.COMPLETED, within=15)
    assert done.results == {"sum": 5}
    failed = await wait_status(state, bad.id, TaskStatus.FAILED, within=15)
    assert failed.in_dlq and [e.kind for e in failed.errors] == ["error", "error"]

    calls = _lines(log, ok.id)
    assert [c[0] for c in calls] == ["before_run", "after_run"]
    assert calls[1][2:4] == [RunOutcome.COMPLETED, "NoneType"]
    assert float(calls[1][4]) >= 0

    async def flaky_calls() -> list[str]:
        names = [c[0] for c in _lines(log, bad.id)]
        return names if len(names) == 6 else []

    names = await eventually(flaky_calls, within=10, what="the flaky task's hook calls")
    assert names == [
        "before_run",
        "after_run",
        "on_retry",
        "before_run",
        "after_run",
        "on_dead_letter",
    ]
    flaky = _lines(log, bad.id)
    assert flaky[0][2] == "0" and flaky[3][2] == "1"  # the attempts
    assert flaky[1][2:4] == [RunOutcome.RETRIED, "Flaky"]
    assert flaky[4][2:4] == [RunOutcome.FAILED, "Flaky"]
    assert flaky[5][2:] == ["Flaky", "True"]  # saved in the DLQ
    own = await state.submit_task(Task(name="ext_own"))
    await wait_status(state, own.id, TaskStatus.COMPLETED, within=15)
    own_calls = await eventually(lambda: len(_lines(log, own.id)) == 4 and _lines(log, own.id))
    assert [c[0] for c in own_calls] == [
        "before_run",
        "own.before_run",
        "after_run",
        "own.after_run",
    ]
    assert not any(c[0].startswith("own.") for c in _lines(log, ok.id))
    logs = procs.logs()
    for method in ("before_run", "after_run", "on_retry", "on_dead_letter"):
        assert f"hook Exploding.{method} raised; ignored" in logs


class _Tagger(Hook):
    def on_submit(self, info: SubmitInfo) -> None:
        info.headers["tag"] = f"{info.name}:{info.queue}"


class _Broken(Hook):
    def on_submit(self, info: SubmitInfo) -> None:
        raise RuntimeError("on_submit exploded")


@pytest.fixture
def submit_hooks() -> Any:
    added = [_Broken(), _Tagger()]
    hooks.add(*added)
    yield added
    for hook in added:
        hooks.remove(hook)


async def test_on_submit_headers_are_stored_with_the_task(
    state: StateManager, submit_hooks: Any
) -> None:
    task = await state.submit_task(Task(name="add", parameters={"a": 1, "b": 1}))
    assert await state.task_headers(str(task.id)) == {"tag": "add:default"}
    # A repeated submit of the same id keeps the first headers and adds nothing.
    again, created = await state.submit(task, {"tag": "other"})
    assert not created and again.id == task.id
    assert await state.task_headers(str(task.id)) == {"tag": "add:default"}


async def test_a_refused_submit_leaves_no_headers(state: StateManager, submit_hooks: Any) -> None:
    from jobbers.errors import InvalidInput

    task = Task(name="add", queue="nope", parameters={"a": 1, "b": 1})
    with pytest.raises(InvalidInput, match="nope"):
        await state.submit(task)
    assert await state.task_headers(str(task.id)) == {}
    assert not await state.redis.exists(state.keys.headers(str(task.id)))


def test_hook_add_refuses_what_is_not_a_hook() -> None:
    with pytest.raises(TypeError, match="Hook"):
        hooks.add(object())  # type: ignore[arg-type]
