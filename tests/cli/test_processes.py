"""The process subcommands delegate to the same ``main(argv)``; ``top`` loads the TUI lazily."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from jobbers.cli.app import app
from jobbers.cli.exit_codes import ExitCode
from typer.testing import CliRunner

from tests.cli.conftest import run_jobbers


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("jobbers 0.")


def test_process_help_is_the_process_own() -> None:
    out = run_jobbers("worker", "--help")
    assert out.returncode == 0 and "WORKER_ROLE" in out.stdout and "--concurrency" in out.stdout
    out = run_jobbers("cleaner", "--help")
    assert out.returncode == 0 and "--interval" in out.stdout
    out = run_jobbers("manager", "--help")
    assert out.returncode == 0 and "--port" in out.stdout


def test_bad_module_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.py")
    for command in ("worker", "manager"):
        out = run_jobbers(command, missing)
        assert out.returncode == 2, (command, out.stderr)
        assert out.stderr.strip().count("\n") == 0 and "does not exist" in out.stderr


def test_scheduler_rejects_unknown_arguments() -> None:
    out = run_jobbers("scheduler", "--bogus")
    assert out.returncode == 2 and "unrecognized arguments" in out.stderr


def test_top_without_the_tui_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jobbers.tui.app", None)  # import fails as if absent
    result = CliRunner().invoke(app, ["top"])
    assert result.exit_code == ExitCode.FAILURE
    assert (
        result.stderr == "error: jobbers top is not available: jobbers.tui.app is not installed\n"
    )


def test_top_runs_the_tui_with_url_and_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, float]] = []
    fake = types.ModuleType("jobbers.tui.app")
    fake.run = lambda url, refresh: calls.append((url, refresh))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "jobbers.tui.app", fake)
    assert CliRunner().invoke(app, ["top", "--refresh", "5"]).exit_code == 0
    env = {"JOBBERS_URL": "http://ops:9000"}
    assert CliRunner().invoke(app, ["top"], env=env).exit_code == 0
    assert calls == [("http://127.0.0.1:8000", 5.0), ("http://ops:9000", 1.0)]
