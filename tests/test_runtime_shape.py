"""The runtime's shared parts: settings and --help, the retry helper, the group commit."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis.exceptions

from jobbers.models.task import Task, TaskStatus
from jobbers.registry import load_tasks_module
from jobbers.runtime.backoff import retry_redis
from jobbers.runtime.runner import OutcomeWriter
from jobbers.runtime.worker import Worker, WorkerSettings
from jobbers.store.facade import StateManager
from jobbers.store.protocol import ClaimSpec, RunOutcome
from tests.conftest import TASKS_MODULE

BIN = Path(sys.executable).parent
EVERY_PROCESS = {
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "JOBBERS_PREFIX": "jb:",
    "JOBBERS_LOG_LEVEL": "INFO",
    "JOBBERS_EVENTS_MAXLEN": "10000",
    "JOBBERS_SUBMIT_REPLICAS": "0",
    "JOBBERS_SUBMIT_WAIT_MS": "1000",
}
# What each process reads, with its default as --help shows it (README's table).
READS = {
    "jobbers_worker": {
        **EVERY_PROCESS,
        "JOBBERS_LOG_FORMAT": "text",
        "WORKER_ROLE": "default",
        "WORKER_CONCURRENT_TASKS": "10",
        "WORKER_THREADS": "unset",
        "WORKER_METRICS_PORT": "0",
        "JOBBERS_WORKER_LEASE_MS": "15000",
        "JOBBERS_MAX_RECOVERIES": "3",
        "JOBBERS_WATCHDOG": "1",
    },
    "jobbers_scheduler": {**EVERY_PROCESS, "JOBBERS_LOG_FORMAT": "text"},
    "jobbers_cleaner": {
        **EVERY_PROCESS,
        "JOBBERS_LOG_FORMAT": "text",
        "JOBBERS_MAX_RECOVERIES": "3",
        "JOBBERS_RETENTION_S": "604800",
        "JOBBERS_FAILED_RETENTION_S": "2592000",
        "JOBBERS_WORKER_LEASE_MS": "15000",
        "JOBBERS_RETENTION_BUDGET_S": "5.0",
        "JOBBERS_CONN_CHECK_S": "0.5",
        "JOBBERS_CONN_GRACE_S": "10.0",
    },
    "jobbers_manager": {
        **EVERY_PROCESS,
        "JOBBERS_API_TOKEN": "unset",
        "JOBBERS_MAX_BODY_BYTES": "1048576",
        "JOBBERS_ALLOWED_HOSTS": "unset",
    },
}


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": str(BIN), "HOME": str(Path.home()), **(env or {})}
    return subprocess.run(args, capture_output=True, text=True, env=environ, timeout=60)


@pytest.mark.parametrize("script", sorted(READS))
def test_each_process_help_lists_the_variables_it_reads(script: str) -> None:
    out = _run([str(BIN / script), "--help"])
    assert out.returncode == 0, out.stderr
    section = out.stdout.split("environment variables:\n", 1)[1]
    # One entry per variable; a description may wrap onto indented lines.
    entries = re.split(r"\n(?=  \S)", section.strip("\n"))
    shown = {}
    for entry in entries:
        name, text = entry.split(None, 1)
        default = re.search(r"\(default: ([^)]*)\)\s*$", " ".join(text.split()))
        assert default is not None, entry
        shown[name] = default.group(1)
    assert shown == READS[script]


@pytest.mark.parametrize(
    ("script", "variable", "value"),
    [
        ("jobbers_worker", "WORKER_CONCURRENT_TASKS", "many"),
        ("jobbers_worker", "JOBBERS_WORKER_LEASE_MS", "15s"),
        ("jobbers_scheduler", "JOBBERS_LOG_LEVEL", "loud"),
        ("jobbers_cleaner", "JOBBERS_RETENTION_S", "a week"),
        ("jobbers_cleaner", "JOBBERS_EVENTS_MAXLEN", "-1"),
        ("jobbers_manager", "JOBBERS_MAX_BODY_BYTES", "0"),
        ("jobbers_manager", "JOBBERS_SUBMIT_REPLICAS", "many"),
        ("jobbers_worker", "JOBBERS_SUBMIT_WAIT_MS", "1s"),
    ],
)
def test_a_bad_value_is_one_clear_line_and_exit_2(script: str, variable: str, value: str) -> None:
    args = [str(BIN / script)]
    if script in ("jobbers_worker", "jobbers_manager"):
        args.append(TASKS_MODULE)
    # Nothing listens on port 9: a process that got past its settings would not start.
    out = _run(args, {variable: value, "REDIS_URL": "redis://127.0.0.1:9/0"})
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith(f"{script}: invalid setting: {variable}: "), out.stderr
    assert out.stderr.count("\n") == 1, out.stderr


def test_worker_settings_read_the_environment_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBBERS_WATCHDOG", "2")  # only 0 turns it off
    monkeypatch.setenv("WORKER_THREADS", "")  # empty: unset
    monkeypatch.setenv("WORKER_ROLE", "heavy")
    settings = WorkerSettings.from_env()
    assert (settings.watchdog, settings.threads, settings.role) == (True, None, "heavy")
    monkeypatch.setenv("JOBBERS_WATCHDOG", "0")
    assert WorkerSettings.from_env().watchdog is False


async def test_retry_redis_pauses_longer_after_each_failure() -> None:
    failures = 3
    pauses: list[float] = []

    async def flaky() -> str:
        nonlocal failures
        if failures:
            failures -= 1
            raise redis.exceptions.ConnectionError("away")
        return "back"

    assert await retry_redis(flaky, lambda _, pause: pauses.append(pause)) == "back"
    assert pauses == [0.2, 0.4, 0.8]

    async def refused() -> str:
        raise redis.exceptions.ConnectionError("away")

    stopping = False

    def pause(_: BaseException, __: float) -> None:
        nonlocal stopping
        stopping = True

    # Once the loop's owner stops, the error is raised instead of retried.
    with pytest.raises(redis.exceptions.ConnectionError):
        await retry_redis(refused, pause, stop_if=lambda: stopping)


async def test_outcomes_of_one_tick_share_one_script_call(state: StateManager) -> None:
    """The outcome writer lingers one tick: runs that end together are one round trip."""
    load_tasks_module(TASKS_MODULE)
    worker = Worker(state, WorkerSettings())
    await worker.register()
    tasks = [await state.submit_task(Task(name="noop")) for _ in range(6)]
    res = await state.claim(worker.id, "default", 6, {"noop@1": ClaimSpec(0, 0, -1)})
    first, *together = res.tasks
    assert len(together) == 5
    writer = OutcomeWriter(state)
    # The first outcome alone: the script is loaded, so each call after is one EVALSHA.
    await writer.write(state.outcome_args(first.id, first.run_id, RunOutcome.COMPLETED, "{}"))
    await state.redis.config_resetstat()
    outcomes = await asyncio.gather(
        *(
            writer.write(state.outcome_args(c.id, c.run_id, RunOutcome.COMPLETED, "{}"))
            for c in together
        )
    )
    calls = await state.redis.info("commandstats")
    assert calls["cmdstat_evalsha"]["calls"] == 1, {k: v["calls"] for k, v in calls.items()}
    assert all(outcome.ok for outcome in outcomes)
    done = await state.get_tasks([str(t.id) for t in tasks])
    assert {t.status for t in done} == {TaskStatus.COMPLETED}
