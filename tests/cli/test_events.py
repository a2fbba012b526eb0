"""``jobbers events`` and ``--wait`` on the event stream, against a real manager process.

The in-process transport of the other CLI tests cannot carry a stream (it waits for a
finished body), so here the manager is ``jobbers_manager`` on a real port.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jobbers.cli.app import app
from jobbers.cli.session import CliConfig
from typer.testing import CliRunner

from jobbers.dev.redis_server import free_port
from tests.conftest import TASKS_MODULE, spawn

from .conftest import poll, stop

MANAGER = Path(sys.executable).parent / "jobbers_manager"


class CountingTransport(httpx.HTTPTransport):
    """A real HTTP transport that counts requests by path (polls cost one each)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls["/task-status" if path.startswith("/task-status/") else path] += 1
        return super().handle_request(request)


def start_manager(
    redis_url: str, tmp_path: Path, **env: str
) -> tuple[subprocess.Popen[bytes], str]:
    """``jobbers_manager`` on a free port, once it answers /health."""
    port = free_port()
    proc = spawn(
        [str(MANAGER), TASKS_MODULE, "--port", str(port)],
        redis_url,
        env={"JOBBERS_API_TOKEN": "", **env},
        log=tmp_path / f"manager-{port}.log",
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    poll(up, 20, "the manager to listen")
    return proc, url


@pytest.fixture
def manager(clean_redis: str, tmp_path: Path) -> Iterator[str]:
    """A real manager's URL."""
    proc, url = start_manager(clean_redis, tmp_path)
    yield url
    stop(proc)


def jobbers(url: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``jobbers ARGS --url URL`` as a process."""
    return subprocess.run(
        [sys.executable, "-m", "jobbers.cli", *args, "--url", url],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def submit(url: str, name: str = "noop", **fields: Any) -> str:
    """Submit through the API; returns the id."""
    body = {"name": name, "parameters": {}, **fields}
    answer = httpx.post(f"{url}/submit-task", json=body, timeout=5)
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["task"]["id"])


def test_events_prints_each_change_as_a_json_line(manager: str) -> None:
    first = submit(manager)
    second = submit(manager)
    assert httpx.post(f"{manager}/task/{first}/cancel", timeout=5).status_code == 200
    done = jobbers(manager, "events", "--after", "0", "--count", "3", "--json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["task_id"], e["from_status"], e["status"]) for e in events] == [
        (first, None, "submitted"),
        (second, None, "submitted"),
        (first, "submitted", "cancelled"),
    ]
    # Resuming after the first one gives the rest; --quiet prints task ids.
    rest = jobbers(manager, "events", "--after", events[0]["event_id"], "--count", "2", "-q")
    assert rest.stdout.split() == [second, first]


def test_events_follows_new_changes_of_one_queue(manager: str) -> None:
    assert httpx.post(f"{manager}/queues", json={"name": "other"}, timeout=5).status_code == 201
    follower = subprocess.Popen(
        [sys.executable, "-m", "jobbers.cli", "events", "--queue", "other", "--count", "1",
         "--json", "--url", manager],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        # It prints only what happens after it connects: submit until it has seen one.
        submitted: list[str] = []

        def seen() -> bool:
            submit(manager)  # another queue: never printed
            submitted.append(submit(manager, queue="other"))
            return follower.poll() is not None

        poll(seen, 20, "jobbers events to print an event")
        out, err = follower.communicate(timeout=10)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    (event,) = [json.loads(line) for line in out.splitlines()]
    assert event["queue"] == "other" and event["task_id"] in submitted


def test_events_with_a_bad_after_is_a_usage_error(manager: str) -> None:
    done = jobbers(manager, "events", "--after", "yesterday")
    assert done.returncode == 2 and "not an event id" in done.stderr and done.stdout == ""


def wait_with(url: str, *args: str) -> tuple[Any, CountingTransport]:
    """``jobbers ARGS --url URL`` in-process, over a counting real transport."""
    transport = CountingTransport()
    config = CliConfig(transport_factory=lambda: transport)
    result = CliRunner().invoke(app, [*args, "--url", url], obj=config)
    return result, transport


@pytest.fixture
def worker(clean_redis: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = spawn(
        ["-m", "jobbers.runtime.worker_main", TASKS_MODULE], clean_redis, log=tmp_path / "w.log"
    )
    yield proc
    stop(proc)


def one_second(url: str) -> Callable[[], tuple[Any, CountingTransport]]:
    """``submit sleeper --wait`` for a task that runs a second."""
    params = json.dumps({"seconds": 1})
    return lambda: wait_with(url, "submit", "sleeper", "--params", params, "--wait", "--json")


def test_wait_follows_the_event_stream_not_polls(
    manager: str, worker: subprocess.Popen[bytes]
) -> None:
    result, transport = one_second(manager)()
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "completed"
    assert transport.calls["/events"] == 1
    # Read when the stream opened, then on `started` and on `completed`: a poll every
    # 0.1-1 s would have read it about eight times in its second of running.
    assert transport.calls["/task-status"] <= 3, transport.calls


def test_wait_falls_back_to_polling_when_the_manager_has_no_stream(
    clean_redis: str, tmp_path: Path, worker: subprocess.Popen[bytes]
) -> None:
    proc, url = start_manager(clean_redis, tmp_path, JOBBERS_EVENTS_MAXLEN="0")
    try:
        result, transport = one_second(url)()
    finally:
        stop(proc)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "completed"
    assert transport.calls["/events"] == 1  # answered 404
    assert transport.calls["/task-status"] > 3, transport.calls  # polled


class EndingStream(CountingTransport):
    """The real manager, except that its event stream ends as soon as it opens."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/events":
            self.calls["/events"] += 1
            return httpx.Response(200, headers={"content-type": "text/event-stream"})
        return super().handle_request(request)


def test_wait_falls_back_to_polling_when_the_stream_ends(
    manager: str, worker: subprocess.Popen[bytes]
) -> None:
    transport = EndingStream()
    config = CliConfig(transport_factory=lambda: transport)
    params = json.dumps({"seconds": 1})
    args = ["submit", "sleeper", "--params", params, "--wait", "--json", "--url", manager]
    result = CliRunner().invoke(app, args, obj=config)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "completed"
    assert transport.calls["/events"] == 1
    assert transport.calls["/task-status"] > 3, transport.calls  # polled
