"""One CLI: the same words, flags and exit statuses everywhere (issue 13), end to end."""

from __future__ import annotations

import _thread
import datetime as dt
import io
import json
import subprocess

import httpx
import pytest
from jobbers.cli import views
from jobbers.cli.app import app
from jobbers.cli.exit_codes import ExitCode
from jobbers.cli.output import Mode, Output
from jobbers.cli.session import CliConfig
from typer.testing import CliRunner, Result

from jobbers import __version__
from jobbers.api.schemas import TaskPage
from jobbers.dev.redis_server import free_port
from jobbers.models.task import Task
from tests.cli.conftest import Cli, PortalTransport, poll, run_jobbers

MISSING = "01JBKR2E5F3G4H5J6K7M8N9P0Q"


def submit_id(cli: Cli, *args: str) -> str:
    return cli.ok("submit", *args, "-q").stdout.strip()


def settled(cli: Cli, tid: str, *statuses: str) -> Task:
    """The task once it reached one of ``statuses`` (a real worker runs it)."""
    done = poll(
        lambda: (t := cli.json("status", tid))["status"] in statuses and t,
        20,
        f"{tid} to reach {statuses}",
    )
    return Task.model_validate(done)


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


# ---------------------------------------------------------------------- --url


def test_url_before_the_subcommand(cli: Cli) -> None:
    """``jobbers --url URL list`` as the root help promises; it beats JOBBERS_URL."""
    assert cli("--url", "http://manager", "list", "-q").exit_code == 0
    down = f"http://127.0.0.1:{free_port()}"
    # No injected transport: the CLI's own client goes to the URL the root flag gave.
    result = CliRunnerNoTransport()("--url", down, "list", env={"JOBBERS_URL": "http://x:1"})
    assert result.exit_code == ExitCode.UNREACHABLE, result.stderr
    assert down in result.stderr and "http://x:1" not in result.stderr
    after = CliRunnerNoTransport()("--url", "http://x:1", "list", "--url", down)
    assert after.exit_code == ExitCode.UNREACHABLE and down in after.stderr, "nearest flag wins"


class CliRunnerNoTransport:
    """``jobbers ARGS`` with the CLI's real transport (for URLs nothing listens on)."""

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(app, list(args), env=env, obj=CliConfig())


@pytest.mark.parametrize("url", ["http//host:8000", "ftp://host", "http://host:port", "host"])
def test_a_malformed_url_is_a_usage_error(cli: Cli, url: str) -> None:
    for args in (["list", "--url", url], ["--url", url, "list"], ["status", MISSING, "--url", url]):
        result = cli(*args)
        assert result.exit_code == ExitCode.USAGE, (args, result.stderr)
        assert result.stdout == "" and "is not a manager URL" in result.stderr, result.stderr
    for args in (["top", "--url", url], ["--url", url, "top"]):  # refused before the TUI starts
        top = cli(*args)
        assert top.exit_code == ExitCode.USAGE and "is not a manager URL" in top.stderr, args
    env = cli("list", env={"JOBBERS_URL": url})
    assert env.exit_code == ExitCode.USAGE and "JOBBERS_URL" in env.stderr


# ---------------------------------------------------------------------- help and version


def test_help_shows_no_bool_beside_flags(cli: Cli) -> None:
    for args in (["list", "--help"], ["dlq", "resubmit", "--help"], ["--help"]):
        page = cli.ok(*args).stdout
        assert "<bool>" not in page and "--help" in page, page
        assert "<str>" in page or "--version" in page, "options that take a value keep theirs"


def test_version_as_a_command_and_a_flag(cli: Cli) -> None:
    assert cli.ok("version").stdout == cli.ok("--version").stdout == f"jobbers {__version__}\n"


# ---------------------------------------------------------------------- errors in CLI words


def test_errors_name_commands_not_routes(cli: Cli) -> None:
    result = cli("submit", "add", "--queue", "nosuch")
    assert result.exit_code == ExitCode.USAGE
    assert "create it with: jobbers queues create nosuch" in result.stderr
    assert "POST" not in result.stderr and "/queues" not in result.stderr


def test_a_mistyped_command_gets_close_names_from_the_lazy_table() -> None:
    typo = run_jobbers("stauts", "x")
    assert typo.returncode == ExitCode.USAGE and typo.stdout == ""
    assert typo.stderr == (
        "error: No such command 'stauts'. Did you mean 'stats', 'status'? (see 'jobbers --help')\n"
    )
    assert "Did you mean" not in run_jobbers("xyzzy").stderr


def test_a_bad_status_lists_the_valid_ones(cli: Cli) -> None:
    result = cli("list", "--status", "bogus")
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    said = " ".join(result.stderr.replace("│", " ").split())  # CliRunner boxes it; main does not
    assert "'bogus' is not a task status; use one of: unsubmitted, submitted," in said, said
    assert "Value error" not in said
    assert cli.ok("list", "--status", "submitted", "-q").stdout == ""


def test_queues_update_of_an_unknown_queue_is_not_found_unless_create(cli: Cli) -> None:
    missing = cli("queues", "update", "nosuch", "--max-concurrent", "2")
    assert missing.exit_code == ExitCode.NOT_FOUND and missing.stdout == ""
    assert "create it with: jobbers queues create nosuch" in missing.stderr
    assert cli("queues", "get", "nosuch").exit_code == ExitCode.NOT_FOUND, "nothing created"
    created = cli.json("queues", "update", "nosuch", "--max-concurrent", "2", "--create")
    assert created["name"] == "nosuch" and created["max_concurrent"] == 2


# ---------------------------------------------------------------------- confirmations


def test_a_confirmation_without_a_terminal_needs_yes(cli: Cli) -> None:
    cli.ok("queues", "create", "busy")
    tid = submit_id(cli, "noop", "--queue", "busy")
    result = cli("queues", "purge", "busy")
    assert result.exit_code == ExitCode.USAGE and result.stdout == ""
    assert result.stderr == (
        "error: Cancel every waiting task of queue 'busy'? "
        "needs --yes when not run from a terminal\n"
    )
    declined = cli("queues", "purge", "busy", input="n\n", terminal=True)
    assert declined.exit_code == ExitCode.DECLINED == 8
    assert declined.stderr.endswith("error: nothing changed\n")
    assert cli.json("status", tid)["status"] == "submitted"
    done = cli.ok("queues", "purge", "busy", "--yes").stdout
    assert done == "cancelled 1 waiting task of queue 'busy'\n"


# ---------------------------------------------------------------------- --wait


def test_wait_timeout_while_still_waiting_exits_7(cli: Cli) -> None:
    tid = submit_id(cli, "noop")
    result = cli("status", tid, "--wait", "--timeout", "0.2")
    assert result.exit_code == ExitCode.STILL_RUNNING == 7
    assert f"task {tid} is still submitted after 0.2s" in result.stderr


def test_ctrl_c_during_a_piped_wait_names_the_task(cli: Cli) -> None:
    """Interrupted while polling, the CLI says which task to follow again."""

    class Interrupting(PortalTransport):
        polls = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.url.path.startswith("/task-status/"):
                Interrupting.polls += 1
                if Interrupting.polls == 2:  # the first poll of --wait, after submit's answer
                    _thread.interrupt_main()
            return response

    config = CliConfig(transport_factory=lambda: Interrupting(cli.portal, cli.manager))
    tid = submit_id(cli, "noop")
    result = CliRunner().invoke(app, ["status", tid, "--wait"], obj=config)
    assert result.exit_code != 0 and result.stdout == ""
    assert f"interrupted: task {tid} is still submitted" in result.stderr
    assert f"jobbers status {tid} --wait" in result.stderr


def test_the_wait_line_says_when_a_retry_is_due(cli: Cli, worker: subprocess.Popen[bytes]) -> None:
    from jobbers.cli.waiting import describe

    tid = submit_id(cli, "flaky_delayed")
    task = settled(cli, tid, "scheduled")  # no scheduler runs: it stays there
    assert task.scheduled_for is not None
    line = describe(task, now=task.scheduled_for - dt.timedelta(seconds=4))
    assert line.endswith("(attempt 2) retry due in 4.0s"), line


# ---------------------------------------------------------------------- attempts and errors


def test_one_vocabulary_for_attempts_and_fields(cli: Cli) -> None:
    tid = submit_id(cli, "noop")
    table = cli("list", "-o", "table", env={"COLUMNS": "120"}).stdout
    header = table.splitlines()[0].split()
    assert header == ["ID", "NAME", "VERSION", "QUEUE", "STATUS", "ATTEMPT", "AGE", "LAST_ERROR"]
    row = cli.ok("list").stdout.split("\t")
    assert row[5] == "1", "a task that never ran is on its first attempt"
    fields = dict(line.split("\t", 1) for line in cli.ok("status", tid).stdout.splitlines())
    assert fields["attempt"] == "1" and "version" in fields and "last_error" in fields
    labels = [line.split()[0] for line in cli.ok("status", tid, "-o", "table").stdout.splitlines()]
    assert {"version", "attempt", "last_error"} <= set(labels) and "ver" not in labels


def test_history_numbers_attempts_across_dlq_resubmits(
    cli: Cli, worker: subprocess.Popen[bytes]
) -> None:
    tid = submit_id(cli, "boom")
    poll(lambda: cli.ok("dlq", "list", "-q").stdout.split() == [tid], 20, "the DLQ")
    for _ in range(2):
        cli.ok("dlq", "resubmit", tid, "--yes")  # resets the retry count, as `jobbers top`
        poll(
            lambda: (
                cli.ok("dlq", "list", "-q").stdout.split() == [tid]
                and cli.json("status", tid)["status"] == "failed"
            ),
            20,
            "the DLQ again",
        )
    assert cli.ok("dlq", "history", tid, "-q").stdout.split() == ["1", "2", "3"]
    assert [e["attempt"] for e in cli.json("dlq", "history", tid)["history"]] == [0, 1, 2]
    row = cli.ok("dlq", "list").stdout.rstrip("\n").split("\t")
    assert row[5] == "3", "the third attempt failed"
    assert row[6].endswith("Z"), "when it failed"
    table = cli("dlq", "list", "-o", "table", env={"COLUMNS": "120"}).stdout
    header = table.splitlines()[0].split()
    assert header == ["ID", "NAME", "VERSION", "QUEUE", "STATUS", "ATTEMPT", "FAILED", "LAST_ERROR"]
    kept = cli.json("status", tid)
    assert kept["retry_attempt"] == 0 and kept["attempt_base"] == 2


def test_a_completed_task_shows_its_outcome_and_earlier_errors_as_history(
    cli: Cli, worker: subprocess.Popen[bytes]
) -> None:
    tid = submit_id(cli, "flaky", "-p", "succeed_on:=1")
    settled(cli, tid, "completed")
    table = cli.ok("status", tid, "-o", "table")
    lines = table.stdout.splitlines()
    labels = [line.split()[0] for line in lines if line and not line[0].isspace()]
    assert labels.index("status") < labels.index("results") < labels.index("attempt")
    assert "last_error" not in labels[: labels.index("ATTEMPT")], "no error field on success"
    assert "earlier attempts:" in table.stderr and "Flaky" in table.stdout
    # A list on a terminal: the old error is not drawn red beside "completed".
    page = TaskPage.model_validate_json(cli.ok("list", "--json").stdout)
    tty = Terminal()
    Output(Mode.TABLE, stdout=tty).listing(page, page.items, views.TASKS)
    assert "\x1b[32mcompleted" in tty.getvalue() and "31m" not in tty.getvalue()
    assert "Flaky" in tty.getvalue()


def test_server_text_is_printed_without_escape_sequences(
    cli: Cli, worker: subprocess.Popen[bytes]
) -> None:
    evil = "bad\x1b[2J\x1b]0;pwned\x07 news\x08\x00!\r"
    tid = submit_id(cli, "shout", "--params", json.dumps({"message": evil}))
    settled(cli, tid, "failed")
    assert cli.json("status", tid)["last_error"] == f"ValueError: {evil}", "stored as it came"
    table = ["-o", "table"]
    for args in (["list"], ["status", tid], ["list", *table], ["status", tid, *table]):
        out = cli(*args, env={"COLUMNS": "200"}).stdout
        assert "ValueError: bad news!" in out, (args, out)
        assert not any(c in out for c in "\x1b\x07\x08\r\x00"), (args, repr(out))


# ---------------------------------------------------------------------- dlq resubmit


def test_dlq_resubmit_can_fix_the_parameters(cli: Cli, worker: subprocess.Popen[bytes]) -> None:
    tid = submit_id(cli, "flaky", "-p", "keep=me")
    poll(lambda: cli.ok("dlq", "list", "-q").stdout.split() == [tid], 30, "the DLQ")
    fixed = cli.ok("dlq", "resubmit", tid, "-p", "succeed_on:=0", "--yes")
    assert fixed.stdout == f"{tid}\tresubmitted\n"
    done = settled(cli, tid, "completed")
    assert done.parameters == {"keep": "me", "succeed_on": 0}, "merged over the task's own"
    assert done.results == {"attempt": 0}, "the retry count was reset"

    other = submit_id(cli, "flaky", "-p", "keep=me")
    poll(lambda: cli.ok("dlq", "list", "-q").stdout.split() == [other], 30, "the DLQ")
    replaced = cli.ok(
        "dlq", "resubmit", other, "--params", '{"succeed_on": 3}', "--replace-params",
        "--keep-retry-count", "--yes",
    )  # fmt: skip
    assert replaced.stdout == f"{other}\tresubmitted\n"
    again = settled(cli, other, "completed")
    assert again.parameters == {"succeed_on": 3} and again.results == {"attempt": 3}
    assert len(again.errors) == 4, "the retries used were kept: it ran once more, and completed"
    bad = cli("dlq", "resubmit", MISSING, "--replace-params", "--yes")
    assert bad.exit_code == ExitCode.USAGE and "--replace-params needs" in bad.stderr


def test_a_refused_resubmit_leaves_the_parameters_alone(cli: Cli) -> None:
    tid = submit_id(cli, "add", "-p", "a:=1", "-p", "b:=2")
    cli.ok("cancel", tid)  # a stored task, but not in the DLQ
    refused = cli("dlq", "resubmit", tid, "-p", "a:=5", "--yes")
    assert refused.exit_code == ExitCode.NOT_FOUND and refused.stdout == f"{tid}\tnot_found\n"
    assert cli.json("status", tid)["parameters"] == {"a": 1, "b": 2}
    nan = cli.api(
        "POST",
        "/dead-letter-queue/resubmit",
        content=b'{"task_ids": ["' + tid.encode() + b'"], "parameters": {"a": NaN}}',
        headers={"content-type": "application/json"},
    )
    assert nan.status_code == 422 and "plain JSON" in nan.text
