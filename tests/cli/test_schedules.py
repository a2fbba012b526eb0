"""``jobbers submit --at/--in`` and ``jobbers schedules ...`` against the real manager."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import httpx
from jobbers.cli.exit_codes import ExitCode

from jobbers.dev.redis_server import free_port
from tests.cli.conftest import Cli, poll
from tests.cli.test_completions import complete_bash
from tests.conftest import TASKS_MODULE, spawn

BIN = Path(sys.executable).parent


def test_submit_in_and_at(cli: Cli) -> None:
    later = cli.json("submit", "add", "-p", "a:=1", "--in", "15m")["task"]
    assert later["status"] == "scheduled"
    due = dt.datetime.fromisoformat(later["scheduled_for"])
    submitted = dt.datetime.fromisoformat(later["submitted_at"])
    assert abs((due - submitted).total_seconds() - 900) < 1
    listed = cli.ok("scheduled", "-q").stdout.split()
    assert listed == [later["id"]]
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
    at = cli.json("submit", "add", "--at", soon)["task"]
    assert at["status"] == "scheduled"
    past = cli.json("submit", "add", "--at", "2020-01-01T00:00:00Z")["task"]
    assert past["status"] == "submitted"


def test_submit_bad_times_are_usage_errors(cli: Cli) -> None:
    for args in (
        ["--in", "soon"],
        ["--at", "tomorrow"],
        ["--at", "2026-12-08T09:00:00"],
        ["--in", "5s", "--at", "2030-01-01T00:00:00Z"],
    ):
        result = cli("submit", "add", *args)
        assert result.exit_code == ExitCode.USAGE, (args, result.stderr)
        assert "--in" in result.stderr or "--at" in result.stderr, result.stderr
    far = cli("submit", "add", "--in", "400d")
    assert far.exit_code != 0 and "delay" in far.stderr
    assert cli.ok("list", "-q").stdout == ""


def test_schedule_lifecycle(cli: Cli) -> None:
    created = cli.json(
        "schedules", "create", "nightly", "--task", "add", "-p", "a:=1", "-p", "b:=2",
        "--cron", "0 3 * * *", "--tz", "Europe/Paris",
    )  # fmt: skip
    assert created["cron"] == "0 3 * * *" and created["timezone"] == "Europe/Paris"
    assert created["next_fire_at"] is not None and created["overlap"] == "skip"
    assert cli.json("schedules", "get", "nightly") == created
    assert cli.json("schedules", "list") == cli.api("GET", "/schedules").json()
    assert cli.ok("schedules", "list", "-q").stdout.split() == ["nightly"]
    table = cli.ok("schedules", "list", "-o", "table").stdout
    assert "nightly" in table and "cron 0 3 * * * (Europe/Paris)" in table

    taken = cli("schedules", "create", "nightly", "--task", "add", "--every", "60")
    assert taken.exit_code == ExitCode.CONFLICT

    updated = cli.json("schedules", "update", "nightly", "--every", "15m", "--overlap", "allow")
    assert updated["every"] == 900 and updated["cron"] is None
    assert updated["overlap"] == "allow" and updated["task"]["parameters"] == {"a": 1, "b": 2}

    assert cli.json("schedules", "pause", "nightly")["enabled"] is False
    assert cli.json("schedules", "resume", "nightly")["enabled"] is True
    fired = cli.json("schedules", "trigger", "nightly")
    assert fired["task"]["status"] == "submitted"
    assert cli.json("schedules", "get", "nightly")["last_task_id"] == fired["task"]["id"]
    assert cli.ok("schedules", "trigger", "nightly", "-q").stdout.strip() != ""

    assert cli.ok("schedules", "delete", "nightly").exit_code == 0
    gone = cli("schedules", "get", "nightly")
    assert gone.exit_code == ExitCode.NOT_FOUND


def test_bad_schedules_name_the_field(cli: Cli) -> None:
    bad_cron = cli("schedules", "create", "x", "--task", "add", "--cron", "99 * * * *")
    assert bad_cron.exit_code != 0 and "cron" in bad_cron.stderr
    bad_tz = cli("schedules", "create", "x", "--task", "add", "--every", "60", "--tz", "Nope/No")
    assert bad_tz.exit_code != 0 and "timezone" in bad_tz.stderr
    queue = cli("schedules", "create", "x", "--task", "add", "--every", "60", "--queue", "ghost")
    assert queue.exit_code != 0 and "queue" in queue.stderr
    unknown = cli("schedules", "create", "x", "--task", "nothing_like_it", "--every", "60")
    assert unknown.exit_code != 0 and "name" in unknown.stderr
    neither = cli("schedules", "create", "x", "--task", "add")
    assert neither.exit_code == ExitCode.USAGE
    assert cli.json("schedules", "list") == {"schedules": []}


def test_schedule_names_complete_from_a_real_manager(clean_redis: str, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    manager = spawn(
        [str(BIN / "jobbers_manager"), TASKS_MODULE, "--port", str(port)],
        clean_redis,
        log=tmp_path / "manager.log",
    )
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{url}/health").status_code == 200
            except httpx.TransportError:
                return False

        poll(up, 30, "the manager to listen")
        for name in ("nightly", "hourly", "weekly"):
            body = {"name": name, "task": {"name": "add"}, "every": 3600}
            assert httpx.post(f"{url}/schedules", json=body).status_code == 201
        offered = complete_bash("jobbers schedules pause n", JOBBERS_URL=url)
        assert offered == ["nightly"]
        offered = complete_bash("jobbers schedules trigger ", JOBBERS_URL=url)
        assert sorted(offered) == ["hourly", "nightly", "weekly"]
    finally:
        manager.kill()
        manager.wait()
