"""``jobbers workers``, ``stats``, ``health`` and ``metrics``."""

from __future__ import annotations

import subprocess

from jobbers.cli.exit_codes import ExitCode

from jobbers.dev.redis_server import free_port
from tests.cli.conftest import Cli, poll, running_cli


def test_workers_lists_a_live_worker(cli: Cli, worker: subprocess.Popen[bytes]) -> None:
    poll(lambda: cli.ok("workers", "-q").stdout.strip(), 20, "the worker to register")
    doc = cli.json("workers")
    (only,) = doc["workers"]
    assert only["pid"] == worker.pid and only["role"] == "default" and only["alive"]
    fields = cli.ok("workers").stdout.split("\t")
    assert fields[:4] == [only["id"], "default", only["host"], str(worker.pid)]
    table = cli.ok("workers", "-o", "table").stdout
    header, row = table.splitlines()
    assert header.split() == ["ID", "ROLE", "QUEUES", "BUSY", "DONE", "FAILED", "SEEN", "STATE"]
    assert row.split()[:4] == [only["id"], "default", "default", "0/10"]


def _register(redis_url: str, fleet: list[tuple[str, str, str, int]]) -> None:
    """Register workers (id, host, role, concurrency) as their processes would."""
    import asyncio

    from jobbers.store.facade import StateManager

    async def go() -> None:
        state = StateManager.from_url(redis_url)
        for wid, host, role, slots in fleet:
            info = {"role": role, "host": host, "pid": 1, "concurrency": slots, "queues": "[]"}
            await state.register_worker(wid, 60_000, info)
        await state.close()

    asyncio.run(go())


def test_workers_totals_per_host_and_per_role(cli: Cli, clean_redis: str) -> None:
    fleet = [("a1", "alpha", "io", 10), ("a2", "alpha", "cpu", 2), ("b1", "beta", "io", 10)]
    _register(clean_redis, fleet)
    totals = cli.json("workers", "--by", "host")["totals"]
    assert [(g["name"], g["workers"], g["concurrency"]) for g in totals["by_host"]] == [
        ("alpha", 2, 12),
        ("beta", 1, 10),
    ]
    assert cli.ok("workers", "--by", "role").stdout.splitlines() == [
        "cpu\t1\t1\t0\t2\t0\t0",
        "io\t2\t2\t0\t20\t0\t0",
    ]
    header, *rows = cli.ok("workers", "--by", "host", "-o", "table").stdout.splitlines()
    assert header.split() == ["NAME", "WORKERS", "ALIVE", "BUSY", "SLOTS", "DONE", "FAILED"]
    assert [r.split()[:5] for r in rows] == [
        ["alpha", "2", "2", "0", "12"],
        ["beta", "1", "1", "0", "10"],
    ]
    assert cli.ok("workers", "--by", "role", "-q").stdout.split() == ["cpu", "io"]
    assert cli("workers", "--by", "rack").exit_code == 2


def test_stats_in_every_mode(cli: Cli) -> None:
    for _ in range(2):
        cli.ok("submit", "noop")
    doc = cli.json("stats")
    assert doc["statuses"]["submitted"] == 2 and doc["queues"][0]["depth"] == 2
    api = cli.api("GET", "/stats").json()
    assert {k: v for k, v in doc.items() if k != "now"} == {
        k: v for k, v in api.items() if k != "now"
    }
    row = cli.ok("stats").stdout.splitlines()
    assert row == ["default\tfalse\t2\t0\t0\t0\t0\t0\t0\t0\t\t"]
    table = cli.ok("stats", "-o", "table").stdout.splitlines()
    assert table[0] == "workers 0  dlq 0  submitted 2"
    assert table[1].split()[:4] == ["QUEUE", "STATE", "DEPTH", "RUN"]
    assert table[2].split()[:3] == ["default", "running", "2"]
    assert cli.ok("stats", "-q").stdout == "default\n"


def test_health_and_metrics(cli: Cli) -> None:
    assert cli.ok("health").stdout.splitlines()[:2] == ["status\tok", "redis\ttrue"]
    assert cli.json("health")["status"] == "ok"
    metrics = cli.ok("metrics").stdout
    assert "# TYPE jobbers_tasks gauge" in metrics or "jobbers_" in metrics


def test_health_when_redis_is_down_exits_1() -> None:
    with running_cli(f"redis://127.0.0.1:{free_port()}/0") as down:
        result = down("health")
        assert result.exit_code == ExitCode.FAILURE
        assert result.stderr.startswith("error: status: unavailable; redis: False")
        stats = down("stats")
        assert stats.exit_code == ExitCode.FAILURE and "Redis is unavailable" in stats.stderr


def test_token_comes_from_the_environment(clean_redis: str) -> None:
    with running_cli(clean_redis, api_token="s3cret") as guarded:
        denied = guarded("stats", env={"JOBBERS_API_TOKEN": ""})
        assert denied.exit_code == ExitCode.FAILURE
        assert denied.stderr == "error: missing or invalid bearer token\n"
        allowed = guarded("stats", env={"JOBBERS_API_TOKEN": "s3cret"})
        assert allowed.exit_code == 0, allowed.stderr


def test_every_command_exits_5_with_one_line_when_the_manager_is_down() -> None:
    from jobbers.cli.app import app
    from typer.testing import CliRunner

    url = f"http://127.0.0.1:{free_port()}"
    for args in (["stats"], ["list"], ["status", "01JBKR2E5F3G4H5J6K7M8N9P0Q"], ["queues", "list"]):
        result = CliRunner().invoke(app, [*args, "--url", url])
        assert result.exit_code == ExitCode.UNREACHABLE, (args, result.stderr)
        assert result.stderr == (
            f"error: cannot reach the jobbers manager at {url}: connection refused "
            "(is it running? set --url or JOBBERS_URL)\n"
        )
        assert result.stdout == ""
    env = {"JOBBERS_URL": url}
    assert CliRunner().invoke(app, ["stats"], env=env).exit_code == ExitCode.UNREACHABLE


def test_submit_that_cannot_reach_the_manager_tells_the_id_to_reuse() -> None:
    from jobbers.cli.app import app
    from typer.testing import CliRunner

    url = f"http://127.0.0.1:{free_port()}"
    tid = "01JBKR2E5F3G4H5J6K7M8N9P0Q"
    result = CliRunner().invoke(app, ["submit", "add", "--id", tid, "--url", url])
    assert result.exit_code == ExitCode.UNREACHABLE
    assert (
        result.stderr.splitlines()[0]
        == f"task id {tid}: running this again with --id {tid} is safe"
    )
