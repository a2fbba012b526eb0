"""``jobbers dev``: started as a subprocess, used over HTTP, stopped by a signal, no orphans."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from jobbers.cli.exit_codes import ExitCode

from jobbers.dev.redis_server import RedisServer, free_port
from jobbers.models.queue import Role
from jobbers.store.facade import StateManager
from tests.cli.conftest import poll, run_jobbers

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = str(ROOT / "examples" / "tasks.py")


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Dev:
    """One ``jobbers dev`` subprocess and its log."""

    def __init__(
        self, cwd: Path, *args: str, env: dict[str, str] | None = None, module: str = EXAMPLES
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"dev-{self.port}.log"
        base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "JOBBERS_URL")}
        command = [sys.executable, "-m", "jobbers.cli", "dev", module, "--port", str(self.port)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*command, *args],
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**base, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", **(env or {})},
            )
        self.children: set[int] = set()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_up(self, processes: int) -> None:
        """Wait for the banner, then record the supervised processes."""
        poll(lambda: "jobbers dev is up" in self.text() or self.proc.poll() is not None, 90)
        assert self.proc.poll() is None, self.text()
        self.children = poll(
            lambda: (d := descendants(self.proc.pid)) and len(d) >= processes and d
        )
        assert len(self.children) == processes, (self.children, self.text())

    def jobbers(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the real ``jobbers`` CLI against this manager over HTTP."""
        return run_jobbers(*args, env={"JOBBERS_URL": self.url})

    def stop(self, sig: signal.Signals) -> int:
        """Send ``sig``, wait for the exit, and check no supervised process survived."""
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        poll(lambda: not any(alive(pid) for pid in self.children), 10, "children to exit")
        return code

    def kill(self) -> None:
        for pid in {*self.children, *descendants(self.proc.pid), self.proc.pid}:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def devs() -> Iterator[list[Dev]]:
    """Every Dev a test starts is killed at the end, whatever happened."""
    started: list[Dev] = []
    yield started
    for dev in started:
        if dev.proc.poll() is None or any(alive(pid) for pid in dev.children):
            dev.kill()


def test_dev_runs_the_system_and_sigint_stops_everything(tmp_path: Path, devs: list[Dev]) -> None:
    dev = Dev(tmp_path)
    devs.append(dev)
    dev.wait_up(processes=5)  # redis, manager, worker, scheduler, cleaner
    banner = dev.text()
    assert f"manager   {dev.url}" in banner and "data in .jobbers/redis" in banner
    assert "tasks     greet v1, fetch_rates v1, build_report v1, charge_card v1" in banner
    assert f"export JOBBERS_URL={dev.url}" in banner
    assert "jobbers submit greet --wait" in banner and "jobbers top" in banner
    assert (tmp_path / ".jobbers" / "redis").is_dir()

    done = dev.jobbers("submit", "greet", "-p", "name=Ada", "--wait", "--timeout", "30", "--json")
    assert done.returncode == 0, done.stderr
    task = json.loads(done.stdout)
    assert task["results"] == {"greeting": "Hello, Ada!"}
    declined = dev.jobbers(
        "submit", "charge_card", "-p", "order_id=A1", "--wait", "--timeout", "30"
    )
    assert declined.returncode == ExitCode.NOT_COMPLETED and "CardDeclined" in declined.stderr
    assert dev.jobbers("dlq", "list", "-q").stdout.count("\n") == 1
    queues = run_jobbers(
        env={"JOBBERS_URL": dev.url, "_JOBBERS_COMPLETE": "complete_bash",
             "COMP_WORDS": "jobbers queues get de", "COMP_CWORD": "3"},
    )  # fmt: skip
    assert queues.stdout.split() == ["default"], "queue names complete from the manager"

    prefixes = {line.split("|")[0].strip() for line in dev.text().splitlines() if "|" in line}
    assert {"dev", "manager", "worker"} <= prefixes  # the others are quiet when idle
    for name in ("redis", "scheduler", "cleaner"):
        assert f"started {name} (pid" in dev.text()
    assert (tmp_path / ".jobbers" / "redis" / "server.log").read_text()

    assert dev.stop(signal.SIGINT) == 0
    tail = dev.text()
    assert "stopping (Ctrl-C again to kill at once)" in tail and "everything stopped" in tail
    assert "did not stop in time" not in tail

    # A restart in the same folder finds the tasks again: Redis keeps them in .jobbers/redis.
    again = Dev(tmp_path)
    devs.append(again)
    again.wait_up(processes=5)
    status = again.jobbers("status", task["id"], "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "completed"
    assert again.stop(signal.SIGTERM) == 0


def test_sigkill_of_dev_leaves_no_orphan(tmp_path: Path, devs: list[Dev]) -> None:
    dev = Dev(tmp_path)
    devs.append(dev)
    dev.wait_up(processes=5)
    dev.proc.kill()  # no chance to stop its children itself
    dev.proc.wait(timeout=10)
    poll(lambda: not any(alive(pid) for pid in dev.children), 30, "orphans to exit")
    # The port and the data folder are free again: a new `jobbers dev` starts in the same place.
    again = Dev(tmp_path)
    devs.append(again)
    again.wait_up(processes=5)
    assert again.stop(signal.SIGINT) == 0


def test_dev_uses_redis_url_and_starts_workers_per_role(
    tmp_path: Path, clean_redis: str, devs: list[Dev]
) -> None:
    async def add_role() -> None:
        state = StateManager.from_url(clean_redis)
        await state.ensure_defaults()
        await state.create_role(Role(name="heavy", queues=["default"]))
        await state.close()

    asyncio.run(add_role())
    dev = Dev(tmp_path, "--workers-per-role", "2", env={"REDIS_URL": clean_redis})
    devs.append(dev)
    dev.wait_up(processes=7)  # manager, 2 x (default, heavy) workers, scheduler, cleaner
    log = dev.text()
    assert "from REDIS_URL" in log and "started redis" not in log
    assert "workers   default x2, heavy x2" in log
    for name in ("worker.default.1", "worker.default.2", "worker.heavy.1", "worker.heavy.2"):
        assert f"started {name}" in log
    workers = poll(lambda: len(dev.jobbers("workers", "-q").stdout.split()) == 4, 30)
    assert workers
    assert dev.stop(signal.SIGINT) == 0
    assert not (tmp_path / ".jobbers").exists()


def test_dev_follows_roles_created_and_deleted_while_it_runs(
    tmp_path: Path, devs: list[Dev]
) -> None:
    dev = Dev(tmp_path)
    devs.append(dev)
    dev.wait_up(processes=5)
    assert dev.jobbers("queues", "create", "mail").returncode == 0
    assert dev.jobbers("roles", "create", "mailers", "mail").returncode == 0
    poll(lambda: "started worker.mailers" in dev.text(), 30, "a worker for the new role")
    assert "poll=jobbers-dev" not in dev.text(), "the supervisor's own polls stay out of the log"
    done = dev.jobbers("submit", "greet", "--queue", "mail", "--wait", "--timeout", "30")
    assert done.returncode == 0, done.stderr  # only the new worker consumes `mail`
    assert dev.jobbers("roles", "delete", "mailers").returncode == 0
    poll(lambda: "role mailers was deleted" in dev.text(), 30, "the role's worker to stop")
    poll(lambda: len(dev.jobbers("workers", "-q").stdout.split()) == 1, 30, "one worker left")
    assert dev.proc.poll() is None, "a retired worker's exit must not stop everything"
    assert dev.stop(signal.SIGINT) == 0


def test_a_second_dev_in_the_same_folder_refuses_at_once(tmp_path: Path, devs: list[Dev]) -> None:
    dev = Dev(tmp_path)
    devs.append(dev)
    dev.wait_up(processes=5)
    second = Dev(tmp_path)
    devs.append(second)
    code = second.proc.wait(timeout=60)
    assert code == ExitCode.CONFLICT, second.text()
    out = second.text()
    assert f"another jobbers dev (pid {dev.proc.pid}) is running with data in" in out
    assert "started" not in out, "it refuses before it starts anything"
    assert dev.jobbers("queues", "list", "-q").returncode == 0, "the first one runs on"
    assert dev.stop(signal.SIGINT) == 0
    # The lock dies with its holders: the folder is free again.
    third = Dev(tmp_path)
    devs.append(third)
    third.wait_up(processes=5)
    assert third.stop(signal.SIGTERM) == 0


def test_a_folder_held_by_an_orphan_redis_is_named_as_such(tmp_path: Path) -> None:
    import fcntl

    gone = subprocess.Popen(["true"])
    gone.wait()
    data = tmp_path / ".jobbers" / "redis"
    data.mkdir(parents=True)
    with (data / "dev.lock").open("w") as lock:  # held here as an orphan Redis would
        lock.write(f"{gone.pid}\n")
        lock.flush()
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = subprocess.run(
            [sys.executable, "-m", "jobbers.cli", "dev", EXAMPLES, "--port", "1"],
            capture_output=True, text=True, cwd=tmp_path, timeout=60,
        )  # fmt: skip
    assert out.returncode == ExitCode.CONFLICT, out.stdout + out.stderr
    assert f"the redis of a jobbers dev that died (pid {gone.pid}) is still running" in out.stdout


def test_the_banner_masks_the_redis_password(tmp_path: Path, devs: list[Dev]) -> None:
    import redis

    server = RedisServer(free_port(), tmp_path / "locked", appendonly=False).start()
    try:
        redis.Redis(port=server.port).config_set("requirepass", "hunter2-secret")
        url = f"redis://:hunter2-secret@127.0.0.1:{server.port}/0"
        dev = Dev(tmp_path, env={"REDIS_URL": url})
        devs.append(dev)
        dev.wait_up(processes=4)  # manager, worker, scheduler, cleaner
        assert f"redis     redis://:***@127.0.0.1:{server.port}/0  (from REDIS_URL)" in dev.text()
        assert "hunter2" not in dev.text()
        assert dev.stop(signal.SIGINT) == 0
    finally:
        server.stop()


GATED_TASKS = """
import asyncio
import pathlib

from jobbers.models.task_config import TaskShutdownPolicy
from jobbers.registry import register_task


async def _until(gate: str) -> dict[str, bool]:
    while not pathlib.Path(gate).exists():
        await asyncio.sleep(0.05)
    return {"ok": True}


@register_task(name="gated_stop", version=1, on_shutdown=TaskShutdownPolicy.STOP)
async def gated_stop(gate: str) -> dict[str, bool]:
    return await _until(gate)


@register_task(name="gated_resubmit", version=1, on_shutdown=TaskShutdownPolicy.RESUBMIT)
async def gated_resubmit(gate: str) -> dict[str, bool]:
    return await _until(gate)
"""


def test_deleting_a_role_retires_its_worker_and_stalls_nothing(
    tmp_path: Path, devs: list[Dev]
) -> None:
    module = tmp_path / "gated.py"
    module.write_text(GATED_TASKS)
    gate = tmp_path / "gate"
    dev = Dev(tmp_path, module=str(module))
    devs.append(dev)
    dev.wait_up(processes=5)
    assert dev.jobbers("queues", "create", "mail").returncode == 0
    assert dev.jobbers("roles", "create", "mailers", "mail").returncode == 0
    poll(lambda: "started worker.mailers" in dev.text(), 30, "a worker for the new role")
    ids = {}
    for name in ("gated_stop", "gated_resubmit"):
        out = dev.jobbers("submit", name, "-p", f"gate={gate}", "--queue", "mail", "--json")
        assert out.returncode == 0, out.stderr
        ids[name] = json.loads(out.stdout)["task"]["id"]

    def status(name: str) -> str:
        out = dev.jobbers("status", ids[name], "--json")
        return str(json.loads(out.stdout)["status"])

    poll(lambda: all(status(n) == "started" for n in ids), 30, "both tasks to start")
    deleted = dev.jobbers("roles", "delete", "mailers")
    assert deleted.returncode == 0, deleted.stderr
    assert "warning: 1 worker(s) of role mailers still run 2 task(s)" in deleted.stderr
    poll(lambda: "role mailers was deleted" in dev.text(), 30, "the supervisor to notice")
    # RESUBMIT goes back to its queue at once (no worker consumes `mail` any more) ...
    poll(lambda: status("gated_resubmit") == "submitted", 30, "the RESUBMIT task re-queued")
    # ... while the STOP task runs on to its end: never `stalled` by a role deletion.
    assert status("gated_stop") == "started"
    gate.touch()
    poll(lambda: status("gated_stop") != "started", 30, "the STOP task to end")
    assert status("gated_stop") == "completed"
    poll(lambda: "worker.mailers stopped (0): its role was deleted" in dev.text(), 30)
    assert len(dev.jobbers("workers", "-q").stdout.split()) == 1
    assert dev.proc.poll() is None, "a retired worker's exit must not stop everything"
    assert dev.stop(signal.SIGINT) == 0


OUTCOME_TASKS = """
from jobbers import task
from jobbers.models.task_config import DeadLetterPolicy
from jobbers.registry import register_task


class Flaky(Exception):
    pass


@register_task(name="fine", version=1)
async def fine() -> None:
    return None


@register_task(name="flaky", version=1, max_retries=2, expected_exceptions=(Flaky,))
async def flaky() -> None:
    if task.attempt == 0:
        raise Flaky("first try fails")


@register_task(name="boom", version=1)
async def boom() -> None:
    raise ValueError("no luck")


@register_task(name="boom_dlq", version=1, dead_letter_policy=DeadLetterPolicy.SAVE)
async def boom_dlq() -> None:
    raise ValueError("into the DLQ")
"""


def test_the_log_tells_task_outcomes_and_leaves_out_polls(tmp_path: Path, devs: list[Dev]) -> None:
    module = tmp_path / "outcomes.py"
    module.write_text(OUTCOME_TASKS)
    dev = Dev(tmp_path, module=str(module))
    devs.append(dev)
    dev.wait_up(processes=5)
    ids = {}
    for name in ("fine", "flaky", "boom", "boom_dlq"):
        out = dev.jobbers("submit", name, "--json")
        assert out.returncode == 0, out.stderr
        ids[name] = json.loads(out.stdout)["task"]["id"]
    expected = [
        f"task {ids['fine']} fine v1 completed",
        f"task {ids['flaky']} flaky v1 retried at once (attempt 1 failed: Flaky: first try fails)",
        f"task {ids['flaky']} flaky v1 completed",
        f"task {ids['boom']} boom v1 failed: ValueError: no luck",
        f"task {ids['boom_dlq']} boom_dlq v1 dead-lettered: ValueError: into the DLQ",
    ]
    poll(lambda: all(line in dev.text() for line in expected), 30, "the outcome lines")
    for line in expected:
        [logged] = [mine for mine in dev.text().splitlines() if line in mine]
        assert logged.startswith("worker     | ") and " INFO " in logged, logged
    # What `jobbers top` and `--wait` poll leaves no access line; a submit still has one.
    with httpx.Client(base_url=dev.url) as api:
        for path in ("/stats", "/active-tasks", "/workers", f"/task-status/{ids['fine']}"):
            assert api.get(path).status_code == 200
        assert api.get("/task-status/nope").status_code >= 400
    poll(lambda: "GET /task-status/nope" in dev.text(), 30, "the failed read's access line")
    text = dev.text()
    assert '"POST /submit-task HTTP/1.1" 201' in text
    for path in ("/stats", "/active-tasks", "/workers", f"/task-status/{ids['fine']}"):
        assert f"GET {path} " not in text, path
    assert dev.stop(signal.SIGINT) == 0


@pytest.mark.parametrize("child", ["worker", "redis"])
def test_a_crashed_child_is_restarted(tmp_path: Path, devs: list[Dev], child: str) -> None:
    """A worker, or the private Redis, killed under ``jobbers dev`` is started again."""
    dev = Dev(tmp_path)
    devs.append(dev)
    dev.wait_up(processes=5)
    started = rf"started {child} \(pid (\d+)"
    [first] = re.findall(started, dev.text())
    os.kill(int(first), signal.SIGKILL)
    poll(lambda: f"{child} exited (-9); restarting it in 0.5s" in dev.text(), 30, "the restart")
    pids = poll(lambda: (p := re.findall(started, dev.text()))[1:] and p)
    assert pids[0] == first and len(pids) == 2
    done = dev.jobbers("submit", "greet", "--wait", "--timeout", "30")
    assert done.returncode == 0, done.stderr + dev.text()  # the new child serves it
    assert dev.proc.poll() is None
    assert dev.stop(signal.SIGINT) == 0
    assert not alive(int(pids[1]))


CRASHING_WORKER = """
import sys

from jobbers.registry import register_task

if "worker" in sys.argv:
    raise SystemExit(3)


@register_task(name="fine", version=1)
async def fine() -> None:
    return None
"""


def test_a_child_that_keeps_crashing_stops_everything(tmp_path: Path, devs: list[Dev]) -> None:
    module = tmp_path / "crashing.py"
    module.write_text(CRASHING_WORKER)
    dev = Dev(tmp_path, module=str(module))
    devs.append(dev)
    assert dev.proc.wait(timeout=90) == 1, dev.text()
    text = dev.text()
    for delay in ("0.5", "1", "2", "4"):
        assert f"worker exited (3); restarting it in {delay}s" in text
    assert "worker exited (3), its 5th crash within 60s; giving up: stopping everything" in text
    assert text.count("started worker (pid") == 5 and "everything stopped" in text
    started = [int(pid) for pid in re.findall(r"started \w+ \(pid (\d+)\)", text)]
    poll(lambda: not any(alive(pid) for pid in started), 10, "every child to be gone")


def test_dev_with_a_broken_module_exits_2_at_once(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_dependency\n")
    for module, message in (
        (tmp_path / "missing.py", "does not exist"),
        (broken, "ModuleNotFoundError: No module named 'no_such_dependency'"),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "jobbers.cli", "dev", str(module), "--port", "1"],
            capture_output=True, text=True, cwd=tmp_path, timeout=60,
        )  # fmt: skip
        assert out.returncode == ExitCode.USAGE, out.stdout + out.stderr
        assert message in out.stdout and "started" not in out.stdout
        assert "Traceback" not in out.stdout + out.stderr


def test_output_lines_are_prefixed_and_an_overlong_line_does_not_stall_the_child() -> None:
    from jobbers.cli.supervisor import LINE_LIMIT, DevOptions, Supervisor

    out = io.StringIO()
    code = f"print('x' * {LINE_LIMIT * 2}); print('after'); print('done')"

    async def run_child() -> int:
        supervisor = Supervisor(DevOptions("unused"), out=out)
        child = await supervisor._start("chatty", sys.executable, "-c", code)
        assert child.exited is not None and child.pump is not None
        status: int = await asyncio.wait_for(child.exited, 30)
        await asyncio.wait_for(child.pump, 30)
        return status

    assert asyncio.run(run_child()) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("dev        | started chatty (pid ")
    assert lines[1:] == [
        f"chatty     | (a line of over {LINE_LIMIT} bytes was cut)",
        "chatty     | after",
        "chatty     | done",
    ]
