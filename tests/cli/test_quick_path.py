"""The quick ``jobbers status`` answers as the Typer command does, and hands over the rest.

Each parity test runs the same arguments through ``quick_status.run`` and through the Typer
command (CliRunner), both against the same real manager app, and compares exit status,
stdout and stderr.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from jobbers.cli import quick_status
from jobbers.cli.app import app
from jobbers.cli.exit_codes import ExitCode, UsageProblem
from jobbers.cli.output import Output, RawJson
from typer.testing import CliRunner

from jobbers.api.schemas import canonical_ulid
from jobbers.dev.redis_server import free_port
from jobbers.models.task import Task, TaskError, TaskStatus
from tests.cli.conftest import Cli, poll, run_entry_point, running_cli
from tests.conftest import TASKS_MODULE, spawn

MISSING = "01JBKR2E5F3G4H5J6K7M8N9P0Q"
BIN = Path(sys.executable).parent


@dataclass
class Answer:
    """What one ``jobbers status`` printed and returned."""

    code: int | None
    stdout: str
    stderr: str


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JOBBERS_URL", "JOBBERS_API_TOKEN", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)


def quick(
    capsys: pytest.CaptureFixture[str],
    cli: Cli | None,
    *args: str,
    stdout: io.StringIO | None = None,
) -> Answer:
    """``jobbers status ARGS`` by the quick path (to ``cli``'s manager, or over the network)."""
    capsys.readouterr()
    out = stdout or io.StringIO()
    code = quick_status.run(list(args), stdout=out, transport=cli.transport() if cli else None)
    return Answer(code, out.getvalue(), capsys.readouterr().err)


def typed(cli: Cli | None, *args: str, env: dict[str, str] | None = None) -> Answer:
    """``jobbers status ARGS`` by the Typer command."""
    if cli is None:
        result = CliRunner().invoke(app, ["status", *args], env=env)
    else:
        result = cli("status", *args, env=env)
    return Answer(result.exit_code, result.stdout, result.stderr)


def same(capsys: pytest.CaptureFixture[str], cli: Cli | None, *args: str) -> Answer:
    """Run both paths, assert they agree, and return the answer."""
    answer = quick(capsys, cli, *args)
    assert answer == typed(cli, *args), args
    return answer


def submit(cli: Cli, *args: str) -> str:
    return str(cli.ok("submit", *args, "-q").stdout.strip())


def test_every_output_mode_matches_the_typer_command(
    cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    tid = submit(cli, "add", "-p", "a:=1", "-p", "label=ünï\tcode")
    tsv = same(capsys, cli, tid)
    assert tsv.code == 0 and tsv.stderr == ""
    rows = [f"id\t{tid}", "name\tadd", "version\t1", "queue\tdefault", "status\tsubmitted"]
    assert tsv.stdout.splitlines()[:5] == rows
    api = cli.api("GET", f"/task-status/{tid}").json()
    for args in (["--json"], ["-o", "json"], ["--output=json"], ["-ojson"]):
        assert json.loads(same(capsys, cli, tid, *args).stdout) == api, args
    assert same(capsys, cli, tid, "-q").stdout == f"{tid}\n"
    assert same(capsys, cli, "--quiet", tid, "--json").stdout == f"{tid}\n"  # -q wins
    assert same(capsys, cli, tid, "-o", "tsv", "--url", "http://ignored") == tsv
    assert same(capsys, cli, tid.lower()).stdout == tsv.stdout  # any spelling, one task


def test_a_table_matches_and_a_terminal_gets_colour(
    cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    tid = submit(cli, "add", "-p", "a:=1")
    quick_table = quick(capsys, cli, tid, "-o", "table")
    typed_table = typed(cli, tid, "-o", "table")
    ages = re.compile(r"\((in )?[0-9.]+[smhd]( ago)?\)")  # a clock ticks between the two
    assert ages.sub("AGE", quick_table.stdout) == ages.sub("AGE", typed_table.stdout)
    assert quick_table.code == typed_table.code == 0
    assert "AGE" in ages.sub("AGE", quick_table.stdout)
    terminal = quick(capsys, cli, tid, stdout=Terminal())
    assert terminal.code == 0 and "\x1b[" in terminal.stdout and "submitted" in terminal.stdout
    assert "status" in terminal.stdout and "\t" not in terminal.stdout


def test_finished_tasks_with_results_and_errors_match(
    cli: Cli, capsys: pytest.CaptureFixture[str], worker: subprocess.Popen[bytes]
) -> None:
    done = submit(cli, "add", "-p", "a:=2", "-p", "b:=3")
    failed = submit(cli, "boom")
    for tid, status in ((done, "completed"), (failed, "failed")):
        poll(lambda t=tid, s=status: cli.json("status", t)["status"] == s, 30, f"{tid} {status}")
    assert 'results\t{"sum":5}' in same(capsys, cli, done).stdout
    assert "status\tfailed" in same(capsys, cli, failed).stdout
    assert json.loads(same(capsys, cli, failed, "--json").stdout)["errors"][0]["kind"] == "error"
    history = quick(capsys, cli, failed, "-o", "table")
    assert "ValueError" in history.stdout and "EXC_TYPE" in history.stdout
    assert history.stderr == "\n"  # the blank line between the task and its history


def test_errors_match_one_line_and_exit_status(
    cli: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = same(capsys, cli, MISSING)
    assert missing == Answer(ExitCode.NOT_FOUND, "", f"error: task {MISSING} not found\n")
    for bad in ("xyz", "8" + MISSING[1:], MISSING[:-1] + "U", "", "0 " + MISSING[2:]):
        answer = same(capsys, cli, bad)
        assert answer.code == ExitCode.USAGE and "is not a ULID" in answer.stderr, bad
        assert answer.stdout == ""


def test_manager_down_matches(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    expected = Answer(
        ExitCode.UNREACHABLE,
        "",
        f"error: cannot reach the jobbers manager at {url}: connection refused "
        "(is it running? set --url or JOBBERS_URL)\n",
    )
    assert same(capsys, None, MISSING, "--url", url) == expected
    assert same(capsys, None, MISSING, f"--url={url}/", "--json") == expected
    monkeypatch.setenv("JOBBERS_URL", url)
    assert (
        quick(capsys, None, MISSING) == expected == typed(None, MISSING, env={"JOBBERS_URL": url})
    )


def test_the_token_comes_from_the_environment(
    clean_redis: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_cli(clean_redis, api_token="s3cret") as guarded:
        submitted = guarded("submit", "noop", "-q", env={"JOBBERS_API_TOKEN": "s3cret"})
        tid = submitted.stdout.strip()
        denied = quick(capsys, guarded, tid)
        assert denied == typed(guarded, tid, env={"JOBBERS_API_TOKEN": ""})
        assert denied == Answer(ExitCode.FAILURE, "", "error: missing or invalid bearer token\n")
        monkeypatch.setenv("JOBBERS_API_TOKEN", "s3cret")
        assert quick(capsys, guarded, tid, "-q") == Answer(0, f"{tid}\n", "")


def test_the_console_script_against_a_real_manager(clean_redis: str, tmp_path: Path) -> None:
    """Over real HTTP: the installed ``jobbers`` prints what the Typer command prints."""
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
        task = httpx.post(f"{url}/submit-task", json={"name": "add", "parameters": {"a": 1}})
        tid = task.json()["task"]["id"]
        by_typer = subprocess.run(
            [sys.executable, "-c", "from jobbers.cli.app import main; main()", "status", tid],
            capture_output=True, text=True, env={**os.environ, "JOBBERS_URL": url}, timeout=60,
        )  # fmt: skip
        quick_run, loaded = run_entry_point(tmp_path, "status", tid, env={"JOBBERS_URL": url})
        assert quick_run.returncode == by_typer.returncode == 0, (quick_run, by_typer)
        assert quick_run.stdout == by_typer.stdout and f"id\t{tid}" in quick_run.stdout
        assert not loaded & {"typer", "pydantic", "rich", "asyncio", "jobbers.api.client"}, loaded
        table, loaded = run_entry_point(tmp_path, "status", tid, "-o", "table", "--url", url)
        assert table.returncode == 0 and f"id                {tid}" in table.stdout
        assert "rich" not in loaded  # a task's fields are drawn without rich
        as_json = subprocess.run(
            [str(BIN / "jobbers"), "status", tid, "--json", "--url", url],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert as_json.stdout == httpx.get(f"{url}/task-status/{tid}").text + "\n"
    finally:
        manager.terminate()
        manager.wait(timeout=15)


@pytest.mark.parametrize(
    "args",
    [
        [MISSING, "--wait"],
        [MISSING, "-w"],
        [MISSING, "--timeout", "3"],
        [MISSING, "--help"],
        [MISSING, "--bogus"],
        [MISSING, "-o", "yaml"],
        [MISSING, "--url"],
        [MISSING, MISSING],
        [],
        ["-"],
        ["--", MISSING],
        [MISSING, "-qw"],
    ],
)
def test_what_the_quick_path_leaves_to_typer(args: list[str]) -> None:
    assert quick_status.parse(args) is None


def test_an_answer_the_model_would_reject_is_left_to_typer(cli: Cli) -> None:
    tid = submit(cli, "add")
    text = cli.api("GET", f"/task-status/{tid}").text
    assert quick_status.task_record(text) is not None
    data = json.loads(text)
    for broken in (
        {**data, "added_later": 1},
        {k: v for k, v in data.items() if k != "worker_id"},
        {**data, "status": "exploded"},
        {**data, "submitted_at": "yesterday"},
        {**data, "errors": [{"attempt": 1}]},
    ):
        assert quick_status.task_record(json.dumps(broken)) is None, broken
    assert quick_status.task_record("[]") is None and quick_status.task_record("<html>") is None


def test_the_quick_path_knows_the_models_fields() -> None:
    """When Task gains a field, the quick path must learn it (until then it defers to Typer)."""
    # Fields excluded from the JSON (a delayed submit's run_at and delay) never reach it.
    sent = {name for name, field in Task.model_fields.items() if not field.exclude}
    assert sent == quick_status.TASK_KEYS
    assert set(TaskError.model_fields) == quick_status.ERROR_KEYS
    times = {
        name
        for model in (Task, TaskError)
        for name, field in model.model_fields.items()
        if "datetime" in str(field.annotation) and not field.exclude
    }
    assert times == quick_status.TIME_KEYS
    assert {s.value for s in TaskStatus} == quick_status.STATUSES


@pytest.mark.parametrize(
    "value",
    [
        MISSING,
        MISSING.lower(),
        "01JBKR2E5F3G4H5J6K718M9N0P",
        "01jbkr2e5f3g4h5j6k7m8n9pOl",  # O and l read as 0 and 1
        "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "01JBKR2E5F3G4H5J6K7M8N9P0U",
        "01JBKR2E5F3G4H5J6K7M8N9P0",
        "01JBKR2E5F3G4H5J6K7M8N9P0QQ",
        "01JBKR2E5F3G4H5J6K7M8N9P0ß",
        "01JBKR2E5F3G4H5J6K7M8N9P0-",
        "",
    ],
)
def test_ids_are_read_as_the_schemas_read_them(value: str) -> None:
    try:
        expected: str | None = canonical_ulid(value)
    except ValueError as exc:
        expected, message = None, str(exc)
    if expected is None:
        with pytest.raises(UsageProblem) as raised:
            quick_status.canonical_id(value)
        assert str(raised.value) == message
    else:
        assert quick_status.canonical_id(value) == expected


def test_raw_json_is_printed_as_the_api_wrote_it() -> None:
    text = '{"id":"x","name":"ünï","n":1.0}'
    pipe = io.StringIO()
    Output(None, pipe).json(RawJson(text + "\n"))
    assert pipe.getvalue() == text + "\n"
    tty = Terminal()
    Output(None, tty).json(RawJson(text))
    assert tty.getvalue() == '{\n  "id": "x",\n  "name": "ünï",\n  "n": 1.0\n}\n'
