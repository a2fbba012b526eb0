"""``jobbers_manager``: argument parsing, bad modules, and a real uvicorn over HTTP."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from jobbers.server.main import main, parse_args

from jobbers.dev.redis_server import free_port
from tests.conftest import TASKS_MODULE, eventually, spawn

MANAGER = Path(sys.executable).parent / "jobbers_manager"


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
    with pytest.raises(SystemExit) as exit_info:
        main([str(module)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("jobbers_manager: ")
    assert needle in err


def test_an_unknown_dotted_module_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["no.such.tasks_module"])
    assert exit_info.value.code == 2
    assert "no.such.tasks_module" in capsys.readouterr().err


def test_a_bad_setting_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBBERS_MAX_BODY_BYTES", "lots")
    with pytest.raises(SystemExit) as exit_info:
        main([TASKS_MODULE])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "jobbers_manager: invalid setting: JOBBERS_MAX_BODY_BYTES: "
        "Input should be a valid integer, unable to parse string as an integer\n"
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "example.org", "::"])
def test_a_public_bind_without_a_token_is_refused(
    host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JOBBERS_API_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main([TASKS_MODULE, "--host", host])
    assert exit_info.value.code == 2
    assert "without JOBBERS_API_TOKEN" in capsys.readouterr().err


def test_a_malformed_redis_url_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", "http://example.com")
    with pytest.raises(SystemExit) as exit_info:
        main([TASKS_MODULE])
    assert exit_info.value.code == 2
    assert "invalid setting" in capsys.readouterr().err


async def test_the_console_script_serves_http(clean_redis: str, tmp_path: Path) -> None:
    port = free_port()
    # The console script is a Python file: run it with this interpreter, as installed.
    process = spawn(
        [str(MANAGER), TASKS_MODULE, "--port", str(port)],
        clean_redis,
        env={"JOBBERS_API_TOKEN": "tok"},
        log=tmp_path / "manager.log",
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def up() -> bool:
                try:
                    return (await client.get("/health")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, 20, what="the manager to listen")
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
    finally:
        process.terminate()
        process.wait(timeout=10)
