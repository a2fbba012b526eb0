"""``jobbers_manager``: argument parsing, bad modules, and a real uvicorn over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobbers.server.main import main, parse_args

from tests.conftest import TASKS_MODULE, eventually

from .conftest import manager_process


def exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What ``jobbers_manager argv`` printed on stderr, once it has exited with status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_defaults_bind_to_localhost_port_8000() -> None:
    args = parse_args(["myapp.tasks"])
    assert (args.module, args.host, args.port) == ("myapp.tasks", "127.0.0.1", 8000)


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        (None, "does not exist"),
        ("def broken(:\n", "SyntaxError"),
        ("import no_such_module_anywhere\n", "no_such_module_anywhere"),
    ],
)
def test_a_bad_module_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str | None, needle: str
) -> None:
    module = tmp_path / "tasks.py"
    if source is not None:
        module.write_text(source)
    err = exits_2([str(module)], capsys)
    assert err.count("\n") == 1
    assert err.startswith("jobbers_manager: ")
    assert needle in err


def test_an_unknown_dotted_module_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    err = exits_2(["no.such.tasks_module"], capsys)
    assert "no.such.tasks_module" in err


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "JOBBERS_MAX_BODY_BYTES",
            "lots",
            "JOBBERS_MAX_BODY_BYTES: "
            "Input should be a valid integer, unable to parse string as an integer\n",
        ),
        ("REDIS_URL", "http://example.com", ""),
    ],
    ids=["bad_setting", "malformed_redis_url"],
)
def test_a_bad_setting_exits_2(
    name: str,
    value: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One line naming the invalid setting (and, where the test pins it, why)."""
    monkeypatch.setenv(name, value)
    err = exits_2([TASKS_MODULE], capsys)
    assert err.startswith("jobbers_manager: invalid setting: ")
    assert err.endswith(expected)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "example.org", "::"])
def test_a_public_bind_without_a_token_is_refused(
    host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JOBBERS_API_TOKEN", raising=False)
    err = exits_2([TASKS_MODULE, "--host", host], capsys)
    assert "without JOBBERS_API_TOKEN" in err


async def test_the_console_script_serves_http(clean_redis: str, tmp_path: Path) -> None:
    async with manager_process(clean_redis, tmp_path / "manager.log", token="tok") as (client, _):
        denied = await client.post("/submit-task", json={"name": "add"})
        assert denied.status_code == 401
        headers = {"Authorization": "Bearer tok"}
        response = await client.post(
            "/submit-task",
            json={"name": "add", "parameters": {"a": 1, "b": 2}},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        tid = response.json()["task"]["id"]
        status = await client.get(f"/task-status/{tid}", headers=headers)
        assert status.json()["status"] == "submitted"


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
async def test_the_access_log_shows_successful_reads_only_at_debug(
    clean_redis: str, tmp_path: Path, level: str
) -> None:
    log = tmp_path / "manager.log"
    async with manager_process(clean_redis, log, JOBBERS_LOG_LEVEL=level) as (client, _):
        await client.get("/health")  # a read: shown only at DEBUG
        await client.post("/submit-task", json={})  # 422: always shown, after the read
        await eventually(lambda: '"POST /submit-task' in log.read_text(), what="the POST line")
    assert ('"GET /health' in log.read_text()) == (level == "DEBUG")


@pytest.mark.parametrize(
    ("allowed_hosts", "status"), [(None, 200), ("jobs.internal,127.0.0.1", 403), ("", 403)]
)
async def test_insecure_no_auth_on_a_public_bind_answers_any_host_unless_hosts_are_set(
    clean_redis: str, tmp_path: Path, allowed_hosts: str | None, status: int
) -> None:
    # Set, even empty, JOBBERS_ALLOWED_HOSTS keeps its Host check (an empty one: loopback).
    env = {} if allowed_hosts is None else {"JOBBERS_ALLOWED_HOSTS": allowed_hosts}
    public = ("--host", "0.0.0.0", "--insecure-no-auth")
    async with manager_process(clean_redis, tmp_path / "m.log", args=public, **env) as (http, _):
        answer = await http.get("/queues", headers={"Host": "jobs.example"})
        assert answer.status_code == status, answer.text
